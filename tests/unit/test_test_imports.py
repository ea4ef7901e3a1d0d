"""Test modules share code through tests/support (and the conformance loaders), never by
importing one another: a test module imported by another runs its tests twice over and drags
its fixtures into a module that did not ask for them."""

from __future__ import annotations

import ast

from tests.support.infra import REPO_ROOT

TESTS = REPO_ROOT / "tests"


def _imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and any(
        part.startswith("test_") or part == "conftest" for part in parts[1:]
    )


def test_no_test_module_imports_a_test_module_or_a_conftest():
    offending = {
        path.relative_to(REPO_ROOT).as_posix(): sorted(
            name for name in _imported_modules(path) if _is_test_module(name)
        )
        for path in sorted(TESTS.rglob("*.py"))
        if path.name.startswith("test_")
        or path.name == "conftest.py"
        or path.is_relative_to(TESTS / "support")
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_support_modules_hold_no_tests():
    support = sorted((TESTS / "support").rglob("*.py"))
    assert support, "tests/support is where shared test code lives"
    for path in support:
        tree = ast.parse(path.read_text(), str(path))
        tests = [
            node.name
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name.lower().startswith("test")
        ]
        assert tests == [], f"{path.relative_to(REPO_ROOT)} defines tests: {tests}"


def _marks(path) -> str:
    """The source of the module's ``pytestmark`` (empty without one)."""
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            return ast.unparse(node.value)
    return ""


def test_modules_on_infrastructure_are_marked_integration_and_with_their_dialect():
    """`make unit` runs tests/unit (and the layout check) and `-m integration` the rest; the
    tests under a dialect's folder (tests/<stage>/<dialect>/) carry that dialect's marker.
    SQLite's tests (in its folders, or in a module named after it) run on files and need no
    infrastructure: they carry the sqlite marker and not the integration one; but the pipeline's
    tests always run on the broker, whatever their targets."""
    for path in sorted(TESTS.rglob("test_*.py")):
        relative = path.relative_to(TESTS)
        if relative.parts[0] in ("unit", "packaging"):
            continue
        marks = _marks(path)
        in_pipeline = relative.parts[0] == "pipeline"
        if not in_pipeline and ("sqlite" in relative.parts[:-1] or "sqlite" in relative.name):
            assert "pytest.mark.sqlite" in marks, f"{relative}: mark it sqlite"
            assert "pytest.mark.integration" not in marks, f"{relative}: needs no servers"
            continue
        assert "pytest.mark.integration" in marks, f"{relative}: mark it integration"
        if "postgres" in relative.parts[:-1] or relative.parts[0] == "conformance":
            assert "pytest.mark.postgres" in marks, f"{relative}: mark it postgres"
        if "mysql" in relative.parts[:-1]:
            assert "pytest.mark.mysql" in marks, f"{relative}: mark it mysql"
