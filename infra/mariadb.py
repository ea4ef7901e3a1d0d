"""A local MariaDB server for schemashift, using Debian's MariaDB packages.

The server is private to schemashift: its own data directory, option file, port (33306 by
default), ``bind-address = 127.0.0.1`` and a Unix socket in its own directory, so it never
touches the distribution's server (``/var/lib/mysql``, port 3306). It reads only the option
file ``up`` writes (``--defaults-file``), runs as the ``mysql`` OS user when we are root
(ourselves otherwise) and is started directly, without systemd or ``mariadbd-safe``.

Authentication: ``mariadb-install-db`` creates ``root@localhost`` (and, when we are not root,
an account named after the OS user that owns the server) identified only by ``unix_socket``:
the OS user that runs ``up`` reaches the server over the Unix socket without a password, and
only to create the ``schemashift`` user. TCP clients log in as ``schemashift`` with the
password generated once and kept in ``<state>/mariadb.cnf`` (mode 0600, a ``[client]`` option
file, so ``mariadb --defaults-extra-file=.schemashift/mariadb.cnf -P 33306`` works too). The
password is sent to the server only as its ``mysql_native_password`` hash, so it never shows up
in a log or an error message.

Layout (``<state>/mariadb``, or ``/var/tmp/schemashift-<hash>-mariadb`` when the ``mysql`` user
cannot traverse the state directory)::

    my.cnf           the server's options, rewritten by ``up`` before each start
    data/            the data directory (mariadb-install-db)
    run/             the socket (mariadb.sock) and the pid file (mariadb.pid)
    mariadb.log      the server's error log
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from schemashift.infra.console import progress
from schemashift.infra.processes import pid_alive, proc_cmdline, terminate
from schemashift.infra.state import write_private

DEFAULT_PORT = 33306
PORT_ENV = "SCHEMASHIFT_MARIADB_PORT"
HOST = "127.0.0.1"
USER = "schemashift"
DATABASE = "schemashift"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
# sockaddr_un.sun_path is 108 bytes, the terminating NUL included.
_MAX_SOCKET_PATH = 107
# Where Debian (and other distributions) put the server, which is not always on PATH.
_SBIN_DIRS = (Path("/usr/sbin"), Path("/usr/libexec"))

# Dev/test tuning: durability is worthless here, speed of DDL-heavy tests is not.
_SERVER_SETTINGS = {
    "character-set-server": "utf8mb4",
    "max_connections": "200",
    "innodb_buffer_pool_size": "128M",
    # The default 96M redo log costs seconds in mariadb-install-db.
    "innodb_log_file_size": "32M",
    "innodb_flush_log_at_trx_commit": "2",
    "innodb_doublewrite": "0",
}


class MariaDBError(RuntimeError):
    """The local MariaDB server could not be installed, initialised, started or stopped."""


log = progress


def client_port() -> int:
    """Server port: ``SCHEMASHIFT_MARIADB_PORT`` or 33306."""
    raw = os.environ.get(PORT_ENV, "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        raise MariaDBError(f"{PORT_ENV}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise MariaDBError(f"{PORT_ENV}={port} is out of range")
    return port


def database_url(password: str, port: int) -> str:
    """The URL clients use (contains the password: never print it)."""
    return f"mariadb://{USER}:{password}@{HOST}:{port}/{DATABASE}"


# --------------------------------------------------------------------------- URLs, versions


@dataclass(frozen=True)
class ConnectParams:
    """Where a ``mariadb://`` or ``mysql://`` URL points, as the drivers take it."""

    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)  # never in a traceback or a log line
    database: str | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``aiomysql.connect`` / ``pymysql.connect``."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "db": self.database,
        }


_SCHEMES = ("mariadb", "mysql")


def parse_url(url: str) -> ConnectParams:
    """``mariadb://user:pw@host:port/db`` (or ``mysql://``, ``mysql+aiomysql://``).

    The password and user may be percent-encoded; the port defaults to 3306; the query string
    is ignored. Raises :class:`MariaDBError` (without the password) for anything else.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower().partition("+")[0]
    if scheme not in _SCHEMES:
        raise MariaDBError(f"not a MariaDB/MySQL URL (scheme {parts.scheme!r}): use mariadb://")
    try:
        port = parts.port or 3306
    except ValueError:
        raise MariaDBError(f"the URL's port is not a number (scheme {parts.scheme}://)") from None
    database = unquote(parts.path.lstrip("/")) or None
    return ConnectParams(
        host=parts.hostname or "localhost",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=database,
    )


def version_label(version: str) -> str:
    """``"MariaDB 10.11.19"`` for ``SELECT VERSION()``'s ``10.11.19-MariaDB-0+deb12u1``;
    ``"MySQL 8.4.3"`` for a MySQL server's ``8.4.3``."""
    number = re.match(r"\d+(?:\.\d+)*", version.strip())
    text = number.group(0) if number else version.strip()
    product = "MariaDB" if "mariadb" in version.lower() else "MySQL"
    return f"{product} {text}"


def native_password_hash(password: str) -> str:
    """MariaDB's stored form of a ``mysql_native_password`` password: ``*`` + SHA1(SHA1(pw)).

    ``IDENTIFIED BY PASSWORD '<hash>'`` takes it as it is, so the clear-text password is never
    sent in SQL (where an error message or the general log could echo it).
    """
    inner = hashlib.sha1(password.encode()).digest()
    return "*" + hashlib.sha1(inner).hexdigest().upper()


# --------------------------------------------------------------------------- OS user


def _running_as_root() -> bool:
    return os.geteuid() == 0


def server_owner() -> str:
    """OS user that owns and runs the server: ``mysql`` when we are root, else ourselves."""
    return "mysql" if _running_as_root() else getpass.getuser()


def socket_user() -> str:
    """The server account the OS user running ``up`` reaches over the socket (unix_socket)."""
    return getpass.getuser()


def _owner_ids() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(server_owner())
    except KeyError:
        raise MariaDBError(
            f"OS user {server_owner()!r} does not exist (it comes with the mariadb-server package)"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _as_owner() -> dict[str, Any]:
    """``subprocess`` arguments that run the child as the server owner (no runuser: the pid we
    get is the server's own)."""
    if not _running_as_root():
        return {}
    uid, gid = _owner_ids()
    return {"user": uid, "group": gid, "extra_groups": []}


def _clean_env() -> dict[str, str]:
    # MYSQL_* variables (MYSQL_HOST, MYSQL_PWD, MYSQL_UNIX_PORT...) would redirect the tools.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL", "MARIADB"))}
    env["LC_ALL"] = "C"
    return env


def owner_can_traverse(path: Path) -> bool:
    """Whether the server owner may enter ``path`` (and so reach what lies below it)."""
    if not _running_as_root():
        return os.access(path, os.X_OK)
    probe = subprocess.run(
        ["test", "-x", str(path)],
        cwd="/",
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
        **_as_owner(),
    )
    return probe.returncode == 0


# --------------------------------------------------------------------------- binaries


def _find(*names: str) -> Path | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
        for directory in _SBIN_DIRS:
            if (directory / name).is_file():
                return directory / name
    return None


def find_server() -> Path | None:
    """The server program: ``mariadbd`` (``mysqld`` on older packages), if installed."""
    return _find("mariadbd", "mysqld")


def find_install_db() -> Path | None:
    """``mariadb-install-db`` (``mysql_install_db`` on older packages), if installed."""
    return _find("mariadb-install-db", "mysql_install_db")


def install_mariadb() -> Path:
    """``apt-get install -y mariadb-server``; ``apt-get update`` first only if that fails."""
    if not _running_as_root():
        raise MariaDBError(
            "MariaDB is not installed and installing it needs root: "
            "run `apt-get install mariadb-server` or set SCHEMASHIFT_MARIADB_URL"
        )
    if not shutil.which("apt-get"):
        raise MariaDBError("MariaDB is not installed and apt-get is not available")
    # Debian's package would start its own server on port 3306 where services may start; that
    # one is not ours and we never stop it (where policy-rc.d forbids it, nothing starts).
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "mariadb-server"]

    try:
        # Progress goes straight to our stderr: this can take a minute on a cold machine.
        output: int | None = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        output = None  # stderr is no file (captured, say): the child inherits ours

    def run(cmd: list[str]) -> int:
        log("running: " + " ".join(cmd))
        return subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=output, stderr=output, env=env, check=False
        ).returncode

    if run(install) != 0:
        # Most often a stale package list: refresh it and try once more.
        for cmd in (["apt-get", "update"], install):
            rc = run(cmd)
            if rc != 0:
                raise MariaDBError(f"`{' '.join(cmd)}` failed with exit code {rc}")
    found = find_server()
    if found is None or find_install_db() is None:
        raise MariaDBError("apt-get installed mariadb-server but no mariadbd was found")
    return found


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class MariaDBLayout:
    """Where the schemashift MariaDB server lives."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "my.cnf"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def socket(self) -> Path:
        return self.run_dir / "mariadb.sock"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "mariadb.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "mariadb.log"

    @property
    def initialised(self) -> bool:
        # mariadb-install-db's system tables; a failed run removes data/ (see initialise()).
        return (self.data / "mysql").is_dir()


def fallback_root(state_dir: Path) -> Path:
    """``/var/tmp/schemashift-<hash of state>-mariadb``, for when ``mysql`` can't reach state."""
    digest = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"schemashift-{digest}-mariadb"


def existing_layout(state_dir: Path) -> MariaDBLayout | None:
    """The initialised server of this state directory, if any (no side effects)."""
    state_dir = Path(state_dir).resolve()
    for layout in (MariaDBLayout(state_dir / "mariadb"), MariaDBLayout(fallback_root(state_dir))):
        if layout.initialised:
            return layout
    return None


def choose_layout(state_dir: Path) -> MariaDBLayout:
    """Pick (without creating) the location of the server for this state directory.

    An existing one wins; otherwise ``<state>/mariadb`` if the server owner can traverse the
    state directory and the socket path fits in ``sun_path``, else the /var/tmp fallback.
    Needs the owner to exist (i.e. MariaDB installed) for the traversal check.
    """
    existing = existing_layout(state_dir)
    if existing is not None:
        return existing
    state_dir = Path(state_dir).resolve()
    preferred = MariaDBLayout(state_dir / "mariadb")
    if len(str(preferred.socket)) <= _MAX_SOCKET_PATH and owner_can_traverse(state_dir):
        return preferred
    return MariaDBLayout(fallback_root(state_dir))


def _make_owned_dir(path: Path, mode: int = 0o700) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if _running_as_root():
        os.chown(path, *_owner_ids())
    path.chmod(mode)


# --------------------------------------------------------------------------- credentials


def password_file(state_dir: Path) -> Path:
    """``<state>/mariadb.cnf``: a ``[client]`` option file with the user and its password."""
    return Path(state_dir) / "mariadb.cnf"


def read_password(state_dir: Path) -> str | None:
    """The stored password of the ``schemashift`` user, if any."""
    try:
        text = password_file(state_dir).read_text()
    except OSError:
        return None
    match = re.search(r"^\s*password\s*=\s*(\S+)\s*$", text, re.MULTILINE)
    return match.group(1) if match else None


def ensure_password(state_dir: Path) -> str:
    """Return the stored password, generating and storing one (0600) on first use."""
    existing = read_password(state_dir)
    if existing:
        return existing
    # URL-safe alphabet: no escaping needed in the URL, the option file, or anywhere else.
    password = secrets.token_urlsafe(24)
    path = password_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(
        path,
        "# Written by schemashift `infra up`: the local MariaDB server's user (keep it 0600).\n"
        f"[client]\nuser={USER}\npassword={password}\nhost={HOST}\n",
    )
    return password


# --------------------------------------------------------------------------- server lifecycle


def write_config(layout: MariaDBLayout, port: int) -> None:
    """(Re)write ``my.cnf``, the only option file the server (and install-db) reads."""
    _make_owned_dir(layout.root)
    _make_owned_dir(layout.run_dir, 0o755)  # clients of other OS users may use the socket
    settings = {
        "datadir": str(layout.data),
        "socket": str(layout.socket),
        "pid-file": str(layout.pid_file),
        "log-error": str(layout.log_file),
        "port": str(port),
        "bind-address": HOST,
        # Accounts are by address (127.0.0.1, %), and no DNS lookup slows a connection.
        "skip-name-resolve": None,
        **_SERVER_SETTINGS,
    }
    lines = [f"{key}={value}" if value is not None else key for key, value in settings.items()]
    layout.config.write_text(
        "# Written by schemashift `infra up` on every start; edits are overwritten.\n"
        "[mysqld]\n" + "".join(f"{line}\n" for line in lines)
    )
    # Readable by the owner; never world-writable (the server would ignore the file).
    layout.config.chmod(0o644)


def configured_port(layout: MariaDBLayout) -> int | None:
    """The port ``my.cnf`` says (the port of a running server we adopt)."""
    try:
        text = layout.config.read_text()
    except OSError:
        return None
    match = re.search(r"^port=(\d+)$", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def initialise(layout: MariaDBLayout, port: int) -> bool:
    """Create the data directory once (``mariadb-install-db``). Returns True if it ran."""
    if layout.initialised:
        return False
    install_db = find_install_db()
    if install_db is None:
        raise MariaDBError("mariadb-install-db is not installed (it comes with mariadb-server)")
    write_config(layout, port)
    log(f"initialising MariaDB data directory {layout.data}")
    cmd = [
        str(install_db),
        f"--defaults-file={layout.config}",  # must come first
        "--auth-root-authentication-method=socket",
        f"--auth-root-socket-user={socket_user()}",
        "--skip-test-db",
        "--skip-name-resolve",
    ]
    proc = subprocess.run(
        cmd,
        cwd=layout.root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
        **_as_owner(),
    )
    if proc.returncode != 0 or not layout.initialised:
        # A half-made data directory would be taken for a finished one next time.
        shutil.rmtree(layout.data, ignore_errors=True)
        raise MariaDBError(
            f"mariadb-install-db failed (exit {proc.returncode}):\n"
            f"{(proc.stderr or proc.stdout).strip()}\n{log_tail(layout)}".rstrip()
        )
    return True


def is_our_server(pid: int, layout: MariaDBLayout) -> bool:
    """The pid is alive and is a server reading our ``my.cnf`` (not a recycled pid)."""
    return pid_alive(pid) and f"--defaults-file={layout.config}" in proc_cmdline(pid)


def server_pid(layout: MariaDBLayout) -> int | None:
    """Pid from the server's pid file if that process is our server, else None."""
    try:
        pid = int(layout.pid_file.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return pid if is_our_server(pid, layout) else None


def log_tail(layout: MariaDBLayout, lines: int = 20) -> str:
    """Last lines of the server log for error messages."""
    try:
        text = layout.log_file.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f"--- {layout.log_file} (last lines) ---\n" + "\n".join(text[-lines:])


def _socket_connection(layout: MariaDBLayout, timeout: float = 5.0) -> Any:
    """A PyMySQL connection over the Unix socket as :func:`socket_user` (unix_socket auth)."""
    import pymysql

    return pymysql.connect(
        unix_socket=str(layout.socket),
        user=socket_user(),
        connect_timeout=timeout,
        read_timeout=30,
        write_timeout=30,
        autocommit=True,
    )


def start(layout: MariaDBLayout, server: Path) -> int:
    """Start ``server`` on ``my.cnf`` as the owner, detached; wait until its socket answers.

    Returns the server's pid. A server that dies or does not answer within
    :data:`START_TIMEOUT_S` is stopped and reported with the end of its log.
    """
    log_file = layout.log_file
    log_file.touch()
    if _running_as_root():
        os.chown(log_file, *_owner_ids())
    with open(log_file, "ab") as out:
        # start_new_session: Ctrl-C in the terminal that ran `up` must not reach the server,
        # and the server must outlive this Python process.
        proc = subprocess.Popen(
            [str(server), f"--defaults-file={layout.config}"],
            cwd=layout.root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_clean_env(),
            start_new_session=True,
            close_fds=True,
            **_as_owner(),
        )
    pid = proc.pid
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if not pid_alive(pid):
            raise MariaDBError(f"MariaDB (pid {pid}) exited during start-up\n{log_tail(layout)}")
        try:
            _socket_connection(layout, timeout=2.0).close()
            return pid
        except Exception as exc:
            if time.monotonic() > deadline:
                stop(layout, pid, timeout=5.0)
                raise MariaDBError(
                    f"MariaDB (pid {pid}) did not answer on {layout.socket} within "
                    f"{START_TIMEOUT_S:.0f}s ({exc})\n{log_tail(layout)}"
                ) from None
        time.sleep(0.1)


def ensure_user_and_database(layout: MariaDBLayout, password: str) -> None:
    """Create (or re-password) the ``schemashift`` user and its database, idempotently.

    The user may do everything, grants included (like the PostgreSQL role, a superuser):
    tests create and drop throwaway databases and users.
    """
    import pymysql

    # Every statement goes through PyMySQL's %-formatting (args given), hence the "%%".
    account = f"'{USER}'@'%%'"
    hashed = native_password_hash(password)
    statements = [
        (f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY PASSWORD %s", (hashed,)),
        (f"ALTER USER {account} IDENTIFIED BY PASSWORD %s", (hashed,)),
        (f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION", ()),
        (f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8mb4", ()),
    ]
    try:
        conn = _socket_connection(layout)
        try:
            with conn.cursor() as cursor:
                for statement, args in statements:
                    cursor.execute(statement, args)
        finally:
            conn.close()
    except pymysql.MySQLError as exc:
        # The statements only carry the hash, so the server's message is safe to show.
        raise MariaDBError(f"creating the MariaDB user/database failed: {exc}") from None


def stop(layout: MariaDBLayout, pid: int, timeout: float = STOP_TIMEOUT_S) -> str:
    """SIGTERM our server (a clean shutdown), SIGKILL after ``timeout`` s. Returns what happened.

    Only signals a process that is a server on our ``my.cnf``: the recorded ``pid`` or, if
    someone restarted it outside schemashift, the one in our pid file; never anything else.
    """
    if not is_our_server(pid, layout):
        current = server_pid(layout)
        if current is None:
            return "not running"
        log(f"mariadb: recorded pid {pid} but {layout.data} is served by pid {current}")
        pid = current
    return terminate(pid, "mariadb", timeout, poll=0.1)


async def probe(url: str, timeout_s: float = 5.0) -> str | None:
    """Connect and ``SELECT 1``; return e.g. ``"MariaDB 10.11.19"``, or None if unreachable."""
    import asyncio

    import aiomysql

    try:
        params = parse_url(url)
        conn = await asyncio.wait_for(
            aiomysql.connect(**params.as_kwargs(), connect_timeout=timeout_s), timeout_s
        )
    except Exception:
        return None
    try:
        async with conn.cursor() as cursor:
            await asyncio.wait_for(cursor.execute("SELECT 1, VERSION()"), timeout_s)
            row = await cursor.fetchone()
        if not row or row[0] != 1:
            return None
        return version_label(str(row[1]))
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ensure_closed(), timeout_s)
