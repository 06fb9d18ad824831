"""Fuzz the whole API with schemathesis, against a real uvicorn process.

Every operation in ``/api/openapi.json`` is called with generated input, valid
(positive) and invalid (negative), with a valid token of a user holding every
permission and without one. Every response must be:

- no server error (no 5xx at all),
- a status code the schema declares for that operation,
- a body that conforms to the schema declared for that status.

Bounded and repeatable: a fixed seed, ``MAX_EXAMPLES`` per operation and
mode, no example database. Deselect locally with ``-m "not fuzz"``.
"""

import os
import time

import pytest
import requests
import schemathesis
from django.contrib.auth.models import Permission
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from config.access.models import api_token_create
from tests.catalog.factories import make_category, make_order, make_product
from tests.live import uvicorn_server
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = [pytest.mark.fuzz, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SEED = 20261122
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", 50))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.fixture
def fuzz_token(django_user_model):
    """A token whose user may do everything, and rows for it to find."""
    user = django_user_model.objects.create_user(username="fuzzer", password="x-" * 10)
    # Every permission of the two apps (not via the root conftest's grant():
    # "conftest" is not a unique module name once tests/ has more of them).
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["movies", "catalog"])
    )
    genres = [make_genre("Drama"), make_genre("Crime")]
    director = make_person("Fuzz Director")
    for i in range(3):
        make_movie(f"Fuzz Movie {i}", genres=genres, director=director)
    category = make_category()
    products = [make_product(category=category, stock=1000) for _ in range(3)]
    make_order(user=user, items=[(products[0], 1)])
    return api_token_create(user=user)[1]


def fuzz_operation(operation, base_url, headers, mode):
    """Run one operation in one mode; return the failures found (as text)."""
    failures: list[str] = []
    session = requests.Session()

    @seed(SEED)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        calls.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # a FailureGroup, with the details
            message = str(exc).strip().splitlines()
            if len(failures) < 3:
                failures.append("\n    ".join(message[:40]))

    calls: list[int] = []
    run()
    session.close()
    return calls, failures


def test_every_operation_holds_to_its_schema(fuzz_token):
    with uvicorn_server(extra_env={"LOG_LEVEL": "ERROR"}) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10  # the movies and catalog routers are mounted
        failures, total, succeeded = [], 0, set()
        started = time.monotonic()
        for operation in operations:
            for who, headers in (
                ("token", {"Authorization": f"Bearer {fuzz_token}"}),
                ("anonymous", {}),
            ):
                for mode in MODES:
                    calls, found = fuzz_operation(operation, base_url, headers, mode)
                    total += len(calls)
                    if any(200 <= status < 300 for status in calls):
                        succeeded.add(operation.label)
                    label = f"{operation.label} [{who}, {mode.value}]"
                    failures += [f"{label}:\n    {text}" for text in found]
        elapsed = time.monotonic() - started
    print(
        f"\nfuzz: {len(operations)} operations, {total} calls in {elapsed:.0f}s, "
        f"seed {SEED}, {MAX_EXAMPLES} examples per operation and mode; "
        f"{len(succeeded)} operations answered 2xx at least once"
    )
    assert not failures, "\n\n".join(failures)
    # The input reached the handlers, not only the validation in front of them.
    assert len(succeeded) >= len(operations) // 2, sorted(succeeded)
