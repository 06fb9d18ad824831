"""Fuzz the whole API with schemathesis, against a real uvicorn process.

schemathesis's own runner (``schemathesis run``), as an outside tester would
use it: every check it has (``--checks all``: no 5xx, declared statuses,
content types and headers, bodies that match the schema, schema-valid input
accepted and invalid input refused, auth that is not ignored, ...), every
phase (examples, coverage, fuzzing, and the stateful phase that follows the
schema's links from a create to the get, update, delete and cancel of what it
made), once with a token (schemathesis's auth for the ``TokenAuth`` scheme,
so only operations that declare it get it) and once without any, the two at
once.

In CI: a fixed seed, and at least 5,000 generated cases on PostgreSQL (fewer
on SQLite, which writes one transaction at a time). ``make fuzz`` runs it with
a fresh seed for ``MINUTES`` minutes instead (``FUZZ_SEED``, ``FUZZ_MINUTES``),
and prints how to replay what it found. Deselect with ``-m "not fuzz"``.

What the schema cannot state, and the checks are told: a schema-valid request
to these operations may still be a 422 for a rule across fields or for a
reference to a row that does not exist (``RULES_BEYOND_THE_SCHEMA``).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from config.access.models import api_token_create
from tests.catalog.factories import make_category, make_order, make_product
from tests.live import uvicorn_server
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = [pytest.mark.fuzz, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SEED = int(os.environ.get("FUZZ_SEED") or 20261122)
MINUTES = float(os.environ.get("FUZZ_MINUTES") or 0)  # 0: bounded by examples, as in CI
ON_POSTGRESQL = connection.vendor == "postgresql"
# About 2,600 cases per run at 85 (a fixed part from the coverage phase, then
# about 27 per example): over 5,000 for the two.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES") or (85 if ON_POSTGRESQL else 20))
# CI's bound (a long run is bounded by time instead).
MIN_CASES = 5000 if ON_POSTGRESQL and not MINUTES and not os.environ.get("FUZZ_MAX_EXAMPLES") else 1
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))

# Operation ids, and why a schema-valid request to them may be a 422.
RULES_BEYOND_THE_SCHEMA = {
    "movies_api_list_movies": "year_min greater than year_max",
    "catalog_api_list_products": "min_price greater than max_price",
    "movies_api_create_movie": "genre slugs and director ids that do not exist",
    "movies_api_update_movie": "genre slugs and director ids that do not exist",
    "movies_api_partial_update_movie": "genre slugs and director ids that do not exist",
    "catalog_api_create_order": "products that do not exist or are inactive, listed twice",
}


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
    products = [make_product(category=category, stock=100_000) for _ in range(3)]
    make_order(user=user, items=[(products[0], 1)])
    return api_token_create(user=user)[1]


def config_text(*, with_token: bool) -> str:
    lines = []
    if with_token:
        lines += ["[auth.openapi.TokenAuth]", 'bearer = "${FUZZ_TOKEN}"', ""]
    lines += [
        # Refusals of bad input, beside schemathesis's list: input that grows
        # past the body or query-string bound (413, 414) is refused there.
        "[checks.negative_data_rejection]",
        "expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429]",
        "",
        "[[operations]]",
        f"include-operation-id = {json.dumps(sorted(RULES_BEYOND_THE_SCHEMA))}",
        "checks.positive_data_acceptance.expected-statuses = "
        '["2xx", "3xx", 401, 403, 404, 409, 422, 429]',
    ]
    return "\n".join(lines) + "\n"


def start_run(base_url: str, folder: Path, *, token: str | None) -> subprocess.Popen:
    folder.mkdir()
    config = folder / "schemathesis.toml"
    config.write_text(config_text(with_token=token is not None))
    limit = ["--max-time", str(int(MINUTES * 60))] if MINUTES else []
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"{base_url}/api/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        *limit,
        "--continue-on-failure",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(folder / "report.json"),
        "--no-color",
        "--workers",
        "1",
    ]
    env = dict(os.environ, FUZZ_TOKEN=token or "")
    return subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=(folder / "output.txt").open("w"),
        stderr=subprocess.STDOUT,
    )


def failures_in(output: str) -> str:
    """The FAILURES and ERRORS sections of schemathesis's output, with the
    curl commands that reproduce each."""
    start = min((output.find(h) for h in ("= FAILURES =", "= ERRORS =") if h in output), default=-1)
    end = output.find("= SUMMARY =")
    return output[start:end] if start >= 0 else output[-4000:]


def test_the_api_holds_to_its_schema_under_every_check(fuzz_token, tmp_path):
    server_env = {
        "LOG_LEVEL": "ERROR",
        # 429s are declared, but would spend the cases on the throttle.
        "API_THROTTLE_ANON": "off",
        "API_THROTTLE_TOKEN": "off",
        "API_THROTTLE_WRITE": "off",
    }
    started = time.monotonic()
    with uvicorn_server(workers=2, extra_env=server_env) as base_url:
        runs = {
            "with a token": start_run(base_url, tmp_path / "token", token=fuzz_token),
            "without a token": start_run(base_url, tmp_path / "anonymous", token=None),
        }
        budget = MINUTES * 60 + 600 if MINUTES else 600
        for run in runs.values():
            run.wait(timeout=budget)
    elapsed = time.monotonic() - started

    found, summary, generated = [], [], 0
    for (who, run), folder in zip(runs.items(), ("token", "anonymous"), strict=True):
        output = (tmp_path / folder / "output.txt").read_text()
        report_path = tmp_path / folder / "report.json"
        assert report_path.exists(), f"schemathesis {who} wrote no report:\n{output[-4000:]}"
        report = json.loads(report_path.read_text())
        generated += report["test_cases"]["generated"]
        skipped = {name for name, phase in report["phases"].items() if phase["status"] == "skipped"}
        assert not skipped, f"{who}: phases not run {skipped}"
        summary += [f"{who}: {line.strip()}" for line in output.splitlines() if "API Links" in line]
        if run.returncode != 0:
            found.append(f"--- {who} (exit {run.returncode}):\n{failures_in(output)}")

    replay = (
        f"replay with: make fuzz SEED={SEED}"
        + (f" MINUTES={MINUTES:g}" if MINUTES else "")
        + " (or the curl commands above)"
    )
    print(
        f"\nfuzz: {generated} cases in {elapsed:.0f}s, seed {SEED}, "
        f"{MAX_EXAMPLES} examples per operation; {replay}",
        *summary,
        sep="\n",
    )
    assert not found, "\n".join(found) + "\n" + replay
    assert generated >= MIN_CASES, f"only {generated} cases generated"
