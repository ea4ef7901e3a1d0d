"""The installed import names: one ``schemashift`` namespace over the four source folders."""

from __future__ import annotations

import tomllib

from tests.support.infra import REPO_ROOT

ROOTS = ("schemas", "consumers", "gateway", "infra")


def _setuptools() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_folder_with_modules_is_a_listed_package():
    listed = set(_setuptools()["packages"])
    folders = {
        "schemashift." + ".".join(py.parent.relative_to(REPO_ROOT).parts)
        for root in ROOTS
        for py in (REPO_ROOT / root).rglob("*.py")
        if "alembic" not in py.parts  # infra/alembic is read by Alembic as files, not imported
    }
    assert folders - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - folders == set(), "these listed packages have no modules"


def test_each_folder_installs_under_the_schemashift_name():
    assert _setuptools()["package-dir"] == {f"schemashift.{root}": root for root in ROOTS}
