"""The boundary around config/runtime/: the apps use its two documented calls
and nothing else of it, and it never imports an app."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("movies", "catalog")
DOCUMENTED_CALLS = {
    ("config.runtime.native_db", "evaluate"),
    ("config.runtime.native_db", "filtered"),
}


def imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for each name imported by a file; name is None for
    ``import module``."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.extend((node.module, alias.name) for alias in node.names)
    return found


def python_files(*folders: str) -> list[Path]:
    return [
        path
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts
    ]


@pytest.mark.parametrize("path", python_files(*APPS), ids=lambda p: str(p.relative_to(ROOT)))
def test_apps_use_nothing_of_the_runtime_but_its_documented_calls(path):
    for module, name in imports(path):
        if module == "config.runtime" or module.startswith("config.runtime."):
            assert (module, name) in DOCUMENTED_CALLS, f"{path.name} imports {module}.{name}"


@pytest.mark.parametrize(
    "path", python_files("config/runtime"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_runtime_imports_no_app(path):
    for module, _ in imports(path):
        top = module.split(".")[0]
        assert top not in APPS, f"{path.name} imports {module}"
        assert not module.startswith("config.") or module.startswith("config.runtime"), (
            f"{path.name} imports {module}: the runtime depends on Django alone"
        )
