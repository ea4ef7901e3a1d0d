"""A local PostgreSQL cluster for schemashift, using Debian's PostgreSQL binaries.

The cluster is private to schemashift: its own data directory, port (54329 by default),
``listen_addresses = '127.0.0.1'`` and a Unix socket in its own directory, so it never touches
the distribution's ``main`` cluster. It is owned by the ``postgres`` OS user (PostgreSQL
refuses to run as root) and started/stopped with ``pg_ctl`` through ``runuser``.

Authentication: the ``postgres`` OS user reaches the server over the Unix socket with ``peer``
auth (only used to create the role); TCP requires SCRAM-SHA-256. The ``schemashift`` role's
password is generated once and kept in ``<state>/pgpass`` (mode 0600, pgpass format). It is
sent to the server only as a SCRAM verifier, so it never shows up in logs or ``ps``.

Layout (``<state>/postgres``, or ``/var/tmp/schemashift-<hash>`` when the ``postgres`` user
cannot traverse the state directory)::

    data/            PGDATA (initdb), with schemashift.conf included from postgresql.conf
    run/             unix_socket_directories
    postgres.log     server log (pg_ctl -l)

Clusters of other major versions (see ``infra.pgversions``) use the same layout under
``<state>/postgres-<major>`` (fallback ``/var/tmp/schemashift-<hash>-postgres-<major>``).
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import hashlib
import hmac
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from schemashift.infra.console import progress

DEFAULT_PORT = 54329
HOST = "127.0.0.1"
ROLE = "schemashift"
DATABASE = "schemashift"
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60
# sockaddr_un.sun_path is 108 bytes; leave room for "/.s.PGSQL.<port>" (+ ".lock").
_MAX_SOCKET_DIR = 90

# Dev/test tuning: durability is worthless here, speed of DDL-heavy tests is not. This one
# server holds the metadata database and every test and benchmark database at once (50
# targets with two instances of every role), hence more connections than a default server.
_SERVER_SETTINGS = {
    "max_connections": "400",
    "shared_buffers": "'128MB'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "password_encryption": "'scram-sha-256'",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}


class PostgresError(RuntimeError):
    """The local PostgreSQL cluster could not be installed, initialised, started or stopped."""


log = progress  # progress line on stderr (also used by infra/pgversions.py)


def client_port() -> int:
    """Server port: ``SCHEMASHIFT_PG_PORT`` or 54329."""
    raw = os.environ.get("SCHEMASHIFT_PG_PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        raise PostgresError(f"SCHEMASHIFT_PG_PORT={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise PostgresError(f"SCHEMASHIFT_PG_PORT={port} is out of range")
    return port


def database_url(password: str, port: int) -> str:
    """The DSN clients use (contains the password: never print it)."""
    return f"postgresql://{ROLE}:{password}@{HOST}:{port}/{DATABASE}"


# --------------------------------------------------------------------------- OS user


def _running_as_root() -> bool:
    return os.geteuid() == 0


def cluster_owner() -> str:
    """OS user that owns and runs the cluster: ``postgres`` when we are root, else ourselves."""
    return "postgres" if _running_as_root() else getpass.getuser()


def _as_owner(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root, so as root every server-side command goes through
    # runuser (no password prompt, unlike su/sudo; util-linux is always on Debian).
    if _running_as_root():
        return ["runuser", "-u", cluster_owner(), "--", *cmd]
    return cmd


def _owner_ids() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(cluster_owner())
    except KeyError:
        raise PostgresError(
            f"OS user {cluster_owner()!r} does not exist (it comes with the postgresql package)"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _clean_env() -> dict[str, str]:
    # Inherited PG* variables (PGPORT, PGHOST, PGDATA...) would silently redirect pg_ctl/psql.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run(
    cmd: list[str], *, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=cwd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
        # Own session: the postmaster pg_ctl leaves behind must not share our terminal's
        # process group (a Ctrl-C after `up` would otherwise reach it).
        start_new_session=True,
    )


def ensure_cluster_owner() -> None:
    """As root, create the ``postgres`` system user if it does not exist yet.

    Debian's postgresql package creates it; clusters run from other binaries (see
    ``infra.pgversions``) need it too when that package is not installed. The same
    ``adduser --system`` call as the package's, so installing the package later adopts it.
    """
    if not _running_as_root():
        return
    try:
        pwd.getpwnam(cluster_owner())
        return
    except KeyError:
        pass
    if shutil.which("adduser"):
        cmd = ["adduser", "--system", "--quiet", "--group", "--no-create-home"]
        cmd += ["--home", "/var/lib/postgresql", "--shell", "/bin/bash", cluster_owner()]
    elif shutil.which("useradd"):
        cmd = ["useradd", "--system", "--user-group", "--no-create-home"]
        cmd += ["--home-dir", "/var/lib/postgresql", "--shell", "/bin/bash", cluster_owner()]
    else:
        raise PostgresError(
            f"OS user {cluster_owner()!r} does not exist and neither adduser nor useradd is "
            "available to create it"
        )
    log(f"creating the system user {cluster_owner()!r} that runs the PostgreSQL clusters")
    proc = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise PostgresError(
            f"creating OS user {cluster_owner()!r} failed: {(proc.stderr or proc.stdout).strip()}"
        )


def owner_can_traverse(path: Path) -> bool:
    """Whether the cluster owner may enter ``path`` (and so reach what lies below it)."""
    if not _running_as_root():
        return os.access(path, os.X_OK)
    probe = subprocess.run(
        _as_owner(["test", "-x", str(path)]),
        cwd="/",
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


# --------------------------------------------------------------------------- binaries


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", path.name)) or (0,)


def find_bin_dir(major: str | None = None) -> Path | None:
    """Debian's ``/usr/lib/postgresql/<major>/bin`` (newest, or exactly ``major``)."""
    if major is not None:
        candidate = DEBIAN_PG_ROOT / major / "bin"
        return candidate if (candidate / "pg_ctl").is_file() else None
    if DEBIAN_PG_ROOT.is_dir():
        versions = sorted(
            (d for d in DEBIAN_PG_ROOT.iterdir() if (d / "bin" / "pg_ctl").is_file()),
            key=_version_key,
        )
        if versions:
            return versions[-1] / "bin"
    # Non-Debian layouts (e.g. a distro with pg_ctl on PATH).
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def install_postgres() -> Path:
    """``apt-get install postgresql postgresql-contrib`` (output streamed to stderr)."""
    if not _running_as_root():
        raise PostgresError(
            "PostgreSQL is not installed and installing it needs root: "
            "run `apt-get install postgresql postgresql-contrib` or set SCHEMASHIFT_DATABASE_URL"
        )
    if not shutil.which("apt-get"):
        raise PostgresError("PostgreSQL is not installed and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql", "postgresql-contrib"],
    ):
        log("running: " + " ".join(cmd))
        # Progress goes straight to our stderr: this can take a minute on a cold machine.
        rc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr,
            stderr=sys.stderr,
            env=env,
            check=False,
        ).returncode
        if rc != 0:
            raise PostgresError(f"`{' '.join(cmd)}` failed with exit code {rc}")
    found = find_bin_dir()
    if found is None:
        raise PostgresError("apt-get installed postgresql but no pg_ctl was found")
    return found


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class PgLayout:
    """Where one schemashift cluster lives."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    def major_version(self) -> str | None:
        """The major version the data directory was created with."""
        try:
            return (self.data / "PG_VERSION").read_text().strip()
        except OSError:
            return None


def fallback_root(state_dir: Path, name: str = "postgres") -> Path:
    """``/var/tmp/schemashift-<hash of state>[-<name>]``, for when ``postgres`` can't reach state.

    ``name`` is the directory's name inside the state directory; the main cluster
    (``postgres``) keeps the bare ``schemashift-<hash>`` it has always had.
    """
    digest = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:12]
    suffix = "" if name == "postgres" else f"-{name}"
    return Path("/var/tmp") / f"schemashift-{digest}{suffix}"


def existing_layout(state_dir: Path, name: str = "postgres") -> PgLayout | None:
    """The initialised cluster ``name`` of this state directory, if any (no side effects)."""
    state_dir = Path(state_dir).resolve()
    for layout in (PgLayout(state_dir / name), PgLayout(fallback_root(state_dir, name))):
        if layout.initialised:
            return layout
    return None


def choose_layout(state_dir: Path, name: str = "postgres") -> PgLayout:
    """Pick (without creating) the location of cluster ``name`` for this state directory.

    An existing cluster wins; otherwise ``<state>/<name>`` if the cluster owner can traverse
    the state directory and the socket path fits in ``sun_path``, else the /var/tmp fallback.
    Needs the cluster owner to exist (i.e. PostgreSQL installed) for the traversal check.
    """
    existing = existing_layout(state_dir, name)
    if existing is not None:
        return existing
    state_dir = Path(state_dir).resolve()
    preferred = PgLayout(state_dir / name)
    if len(str(preferred.socket_dir)) <= _MAX_SOCKET_DIR and owner_can_traverse(state_dir):
        return preferred
    return PgLayout(fallback_root(state_dir, name))


def _make_owned_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if _running_as_root():
        uid, gid = _owner_ids()
        os.chown(path, uid, gid)
    path.chmod(0o700)


# --------------------------------------------------------------------------- credentials


def password_file(state_dir: Path) -> Path:
    """``<state>/pgpass``: one pgpass-format line for the schemashift role (mode 0600)."""
    return Path(state_dir) / "pgpass"


def read_password(state_dir: Path) -> str | None:
    """The stored password for the schemashift role, if any."""
    try:
        lines = password_file(state_dir).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) == 5 and fields[3] == ROLE and fields[4]:
            return fields[4]
    return None


def ensure_password(state_dir: Path) -> str:
    """Return the stored password, generating and storing one (0600) on first use."""
    existing = read_password(state_dir)
    if existing:
        return existing
    # URL-safe alphabet: no escaping needed in the DSN, in pgpass, or anywhere else.
    password = secrets.token_urlsafe(24)
    path = password_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{HOST}:*:{DATABASE}:{ROLE}:{password}\n")
    path.chmod(0o600)
    return password


def scram_verifier(password: str, *, iterations: int = 4096) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677).

    ``ALTER ROLE ... PASSWORD '<verifier>'`` is accepted as-is by the server, so the clear-text
    password is never sent in SQL (where an error message or log line could echo it).
    """
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


# --------------------------------------------------------------------------- cluster lifecycle


def initdb(layout: PgLayout, bin_dir: Path) -> bool:
    """Create the cluster once. Returns True if it ran initdb."""
    if layout.initialised:
        return False
    _make_owned_dir(layout.root)
    _make_owned_dir(layout.socket_dir)
    log(f"initialising PostgreSQL cluster in {layout.data}")
    cmd = [
        str(bin_dir / "initdb"),
        "-D",
        str(layout.data),
        "-U",
        cluster_owner(),
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        # C collation: deterministic ordering, and no dependency on generated locales.
        "--no-locale",
    ]
    proc = _run(_as_owner(cmd), cwd=layout.root)
    if proc.returncode != 0:
        raise PostgresError(f"initdb failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    return True


def write_config(layout: PgLayout, port: int) -> None:
    """(Re)write schemashift.conf and pg_hba.conf; both are read at server start."""
    owner = _owner_ids() if _running_as_root() else None

    def write(path: Path, text: str) -> None:
        path.write_text(text)
        if owner:
            os.chown(path, *owner)
        path.chmod(0o600)

    _make_owned_dir(layout.socket_dir)
    settings = {
        "listen_addresses": f"'{HOST}'",
        "port": str(port),
        "unix_socket_directories": f"'{layout.socket_dir}'",
        **_SERVER_SETTINGS,
    }
    write(
        layout.data / "schemashift.conf",
        "# Written by schemashift `infra up` on every start; edits are overwritten.\n"
        + "".join(f"{key} = {value}\n" for key, value in settings.items()),
    )
    main_conf = layout.data / "postgresql.conf"
    include = "include_if_exists = 'schemashift.conf'"
    if include not in main_conf.read_text():
        with main_conf.open("a") as handle:
            handle.write(f"\n# schemashift local dev settings\n{include}\n")
    write(
        layout.data / "pg_hba.conf",
        "# Written by schemashift `infra up`.\n"
        "# TYPE  DATABASE  USER  ADDRESS  METHOD\n"
        f"local   all       {cluster_owner()}  peer\n"
        f"host    all       all   {HOST}/32  scram-sha-256\n",
    )


def postmaster_pid(layout: PgLayout) -> int | None:
    """Pid from ``postmaster.pid`` if that process is alive, else None."""
    try:
        first_line = (layout.data / "postmaster.pid").read_text().splitlines()[0]
        pid = int(first_line.strip())
    except (OSError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def postmaster_port(layout: PgLayout) -> int | None:
    """Port of the running server, from line 4 of ``postmaster.pid``."""
    try:
        return int((layout.data / "postmaster.pid").read_text().splitlines()[3].strip())
    except (OSError, IndexError, ValueError):
        return None


def log_tail(layout: PgLayout, lines: int = 20) -> str:
    """Last lines of the server log for error messages."""
    try:
        text = layout.log_file.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f"--- {layout.log_file} (last lines) ---\n" + "\n".join(text[-lines:])


def port_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start(layout: PgLayout, bin_dir: Path) -> int:
    """``pg_ctl start -w`` as the cluster owner; returns the postmaster pid."""
    if layout.log_file.exists() and _running_as_root():
        os.chown(layout.log_file, *_owner_ids())
    cmd = [
        str(bin_dir / "pg_ctl"),
        "-D",
        str(layout.data),
        "-l",
        str(layout.log_file),
        "-w",
        "-t",
        str(START_TIMEOUT_S),
        "start",
    ]
    proc = _run(_as_owner(cmd), cwd=layout.root)
    pid = postmaster_pid(layout)
    if proc.returncode != 0 or pid is None:
        raise PostgresError(
            f"pg_ctl start failed (exit {proc.returncode}): {proc.stdout.strip()} "
            f"{proc.stderr.strip()}\n{log_tail(layout)}".rstrip()
        )
    return pid


def ensure_role_and_database(layout: PgLayout, bin_dir: Path, port: int, password: str) -> None:
    """Create (or re-password) the superuser role and the database, idempotently."""
    verifier = scram_verifier(password)
    # \gexec runs the generated statement only when the SELECT returns a row: CREATE ROLE /
    # CREATE DATABASE have no IF NOT EXISTS, and CREATE DATABASE cannot run inside DO.
    script = (
        f"SELECT 'CREATE ROLE {ROLE}' WHERE NOT EXISTS "
        f"(SELECT FROM pg_roles WHERE rolname = '{ROLE}')\\gexec\n"
        f"ALTER ROLE {ROLE} WITH LOGIN SUPERUSER PASSWORD '{verifier}';\n"
        f"SELECT 'CREATE DATABASE {DATABASE} OWNER {ROLE}' WHERE NOT EXISTS "
        f"(SELECT FROM pg_database WHERE datname = '{DATABASE}')\\gexec\n"
    )
    cmd = [
        str(bin_dir / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(layout.socket_dir),
        "-p",
        str(port),
        "-U",
        cluster_owner(),
        "-d",
        "postgres",
        "-f",
        "-",
    ]
    proc = _run(_as_owner(cmd), cwd=layout.root, stdin=script)
    if proc.returncode != 0:
        # The script only carries the SCRAM verifier, so echoing psql's stderr is safe.
        raise PostgresError(f"creating role/database failed:\n{proc.stderr.strip()}")


def stop(layout: PgLayout, bin_dir: Path, pid: int) -> str:
    """``pg_ctl stop -m fast`` if ``pid`` is still this cluster's postmaster."""
    current = postmaster_pid(layout)
    if current is None:
        return "not running"
    if current != pid:
        # Someone restarted it outside schemashift; it is still our data dir, so stop it,
        # but say so.
        log(f"postgres: recorded pid {pid} but {layout.data} is served by pid {current}")
    cmd = [str(bin_dir / "pg_ctl"), "-D", str(layout.data), "-m", "fast", "-w", "-t", "60", "stop"]
    proc = _run(_as_owner(cmd), cwd=layout.root)
    if proc.returncode != 0:
        raise PostgresError(f"pg_ctl stop failed: {proc.stdout.strip()} {proc.stderr.strip()}")
    return "stopped"


async def probe(url: str, timeout_s: float = 5.0) -> str | None:
    """Connect and ``SELECT 1``; return ``"PostgreSQL <version>"`` or None if unreachable."""
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=timeout_s)
    except Exception:
        return None
    try:
        if await conn.fetchval("SELECT 1", timeout=timeout_s) != 1:
            return None
        # e.g. "15.14 (Debian 15.14-0+deb12u1)"; asyncpg's ServerVersion splits 10+ oddly.
        version = await conn.fetchval("SHOW server_version", timeout=timeout_s)
        return f"PostgreSQL {str(version).split()[0]}"
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            await conn.close(timeout=timeout_s)
