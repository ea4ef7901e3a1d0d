"""The wheel as users install it: into a fresh virtual environment with nothing else in it.

It must install no generic top-level module (``schemas``, ``consumers``, ``gateway``,
``infra``) that could clash with another distribution, and ``schemashift diff`` must work from a
directory that has none of the source folders in it.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.support.infra import REPO_ROOT

pytestmark = pytest.mark.integration

GENERIC = ("schemas", "consumers", "gateway", "infra")


def _run(*args: str | Path, cwd: Path) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (
        f"{args[:3]} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv into which the freshly built wheel is installed."""
    work = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work, REPO_ROOT, cwd=work)
    (wheel,) = work.glob("schemashift-*.whl")
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    _run(bin_dir / "python", "-m", "pip", "install", "-q", wheel, cwd=work)
    return bin_dir


def test_wheel_installs_only_the_schemashift_import_name(installed: Path):
    files = _run(installed / "python", "-m", "pip", "show", "-f", "schemashift", cwd=installed)
    top_level = {
        Path(line.strip()).parts[0]
        for line in files.split("Files:", 1)[1].splitlines()
        if line.strip()
    }
    assert not top_level & set(GENERIC), f"generic top-level names installed: {top_level}"
    assert "schemashift" in top_level
    # Data files the package reads at run time travel with it.
    for path in (
        "schemashift/infra/alembic.ini",
        "schemashift/infra/kafka-config/pom.xml",
        "schemashift/gateway/console/templates/migration.html",
        "schemashift/gateway/console/static/htmx.min.js",
        "schemashift/gateway/console/static/VENDORED.md",
    ):
        assert path in files, f"{path} is not in the wheel"
    probe = "import importlib.util as u; print([n for n in {names} if u.find_spec(n)])"
    found = _run(installed / "python", "-c", probe.format(names=GENERIC), cwd=installed)
    assert found.strip() == "[]", f"importable under generic names: {found}"


async def test_installed_cli_diffs_from_another_directory(installed: Path, new_database, tmp_path):
    source = await new_database("CREATE TABLE items (id integer PRIMARY KEY, name text);")
    target = await new_database("CREATE TABLE items (id integer PRIMARY KEY);")
    script = _run(installed / "schemashift", "diff", source, target, cwd=tmp_path)
    assert "ALTER TABLE" in script and "name" in script
