"""Django's template backend, with the rendering context freed when done.

``make_context`` pushes the view's dict onto the new ``RequestContext`` as a
``ContextDict``, which points back at the context: a reference cycle that
holds the request, the page and every object on it (217 objects for the
products page) until the cyclic garbage collector finds them. Under load, a
worker's collector then spends its time rescanning these pages. Emptying the
context's stack once rendering is over breaks the cycle, so the objects are
freed on the spot. Nothing reads a context after ``render()`` returns (the
test client keeps its own copy, taken while rendering).

settings.TEMPLATES names this backend in place of Django's.
"""

from typing import Any

from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.backends import django as django_backend
from django.template.context import make_context
from django.utils.safestring import SafeString


class Template(django_backend.Template):
    def render(
        self, context: dict[str, Any] | None = None, request: HttpRequest | None = None
    ) -> SafeString:
        made = make_context(context, request, autoescape=self.backend.engine.autoescape)
        try:
            return self.template.render(made)
        except TemplateDoesNotExist as exc:
            django_backend.reraise(exc, self.backend)
        finally:
            made.dicts.clear()


class DjangoTemplates(django_backend.DjangoTemplates):
    def from_string(self, template_code: str) -> Template:
        return Template(super().from_string(template_code).template, self)

    def get_template(self, template_name: str) -> Template:
        return Template(super().get_template(template_name).template, self)
