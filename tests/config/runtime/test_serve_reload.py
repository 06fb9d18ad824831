"""``python -m config.runtime.serve --reload``, what ``make run`` serves with:
a template or Python file of the project that changes restarts the worker."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from config.runtime import serve
from tests.live import PROJECT_DIR, free_port

pytestmark = pytest.mark.live


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def _wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def test_a_changed_template_restarts_the_worker(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    env = dict(os.environ, DJANGO_SECRET_KEY="reload-test-" + "x" * 40, DJANGO_DEBUG="0")
    probe = PROJECT_DIR / "templates" / f"reload_probe_{os.getpid()}.html"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.runtime.serve", "--reload", "--port", str(port)],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _healthy(base_url))
        started = log.read_text().count("Started server process")
        probe.write_text("<p>probe</p>\n")
        _wait_for(lambda: log.read_text().count("Started server process") > started)
        assert "templates/" + probe.name in log.read_text()
        _wait_for(lambda: _healthy(base_url))
    finally:
        probe.unlink(missing_ok=True)
        os.killpg(process.pid, 15)
        process.wait(timeout=20)


def test_reload_watches_the_project_code_not_the_virtualenv():
    watched = serve.watched_dirs()
    assert PROJECT_DIR / "movies" in watched
    assert PROJECT_DIR / "templates" in watched
    assert not any(".venv" in Path(d).parts for d in watched)


def test_reload_runs_one_worker_only(capsys):
    with pytest.raises(SystemExit) as exc:
        serve.main(["--reload", "--workers", "2"])
    assert exc.value.code == 2
    assert "--reload runs one worker" in capsys.readouterr().err
