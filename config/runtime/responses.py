"""django-ninja's response validation without the wrapper model on every call.

ninja (1.7, ``Operation._result_to_response``) validates a handler's result by
wrapping it in an object read through ninja's ``DjangoGetter`` and validating
that against a model made for the operation (``NinjaResponseSchema``, whose one
field ``response`` has the declared type); it then dumps the wrapper and takes
``response`` back out. For a result that is a plain ``dict`` the getter has
nothing to do (it hands a dict's value over as it is), so the declared type
alone validates and dumps it, with the same context and options: the same
data, without the wrapper's Python-level validator, getter and extra level of
model on every call. Any other result (a model instance, ``Status``, an
``HttpResponse``, a list…) goes through ninja's own code.

``install`` gives an operation this behaviour; ``config.api`` calls it for
every operation when ``RUNTIME_RESPONSES`` is on.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from ninja.constants import NOT_SET
from ninja.operation import AsyncOperation, Operation
from pydantic import TypeAdapter


class PlainDictResults(Operation):
    """An operation whose dict results are validated by their declared type."""

    def _result_to_response(
        self, request: HttpRequest, result: Any, temporal_response: HttpResponse
    ) -> HttpResponseBase:
        if type(result) is not dict:
            return super()._result_to_response(request, result, temporal_response)
        # ninja's choice of status for a result that does not name one.
        status = next(iter(self.response_models)) if len(self.response_models) == 1 else 200
        adapter = self._plain_adapter(status)
        if adapter is None:
            return super()._result_to_response(request, result, temporal_response)
        temporal_response.status_code = status
        context = {"request": request, "response_status": status}
        data = adapter.dump_python(
            adapter.validate_python(result, context=context),
            by_alias=self.by_alias,
            exclude_unset=self.exclude_unset,
            exclude_defaults=self.exclude_defaults,
            exclude_none=self.exclude_none,
            context=context,
        )
        return self.api.create_response(request, data, temporal_response=temporal_response)

    def _plain_adapter(self, status: int) -> TypeAdapter[Any] | None:
        """The adapter of the type declared for ``status``; None where ninja's
        own path must answer (no such status, no schema or an empty one)."""
        adapters: dict[int, TypeAdapter[Any] | None] = self.__dict__.setdefault(
            "_plain_adapters", {}
        )
        if status not in adapters:
            model = self.response_models.get(status, self.response_models.get(Ellipsis))
            adapter = None
            if model is not None and model is not NOT_SET:
                field = model.model_fields["response"]
                if not field.metadata:
                    adapter = TypeAdapter(field.annotation)
            adapters[status] = adapter
        return adapters[status]


class PlainDictResultsAsync(PlainDictResults, AsyncOperation):
    pass


_INSTALLED = {AsyncOperation: PlainDictResultsAsync, Operation: PlainDictResults}


def install(operation: Operation) -> None:
    """Give ``operation`` (one of ninja's own classes) the plain-dict path."""
    plain = _INSTALLED.get(type(operation))
    if plain is not None:
        operation.__class__ = plain
