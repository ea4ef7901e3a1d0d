"""The commands that talk to a running gateway: ``compare``, ``migrations``, ``connections``.

They register with :func:`add_client_commands` and run with :func:`run_client_command`. The
HTTP side is :mod:`schemashift.gateway.client`; this module resolves where the gateway is and
which token to send, renders the answers (tables, the plan, live progress) and turns the outcome
into the exit code. Registering imports nothing heavy: `schemashift diff` starts as fast as
before.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from schemashift.schemas.hazards import Hazard

if TYPE_CHECKING:
    import httpx

    from schemashift.gateway.client import GatewayClient, Json
    from schemashift.schemas.events import ScriptGenerated

COMMANDS = ("compare", "migrations", "connections")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2
EXIT_AWAITING_APPROVAL = 3

URL_ENV = "SCHEMASHIFT_API_URL"
TOKEN_ENV = "SCHEMASHIFT_API_TOKEN"
# The gateway's own default address (SCHEMASHIFT_GATEWAY_HOST / _PORT).
DEFAULT_URL = "http://127.0.0.1:8000"

# Where a watched migration stopped, and the exit code it gives: it went ahead (0), it ended
# without applying (1), it waits for someone to approve it (3).
_EXIT_BY_STATUS = {
    "generated": EXIT_OK,
    "approved": EXIT_OK,
    "applying": EXIT_OK,
    "applied": EXIT_OK,
    "failed": EXIT_FAILED,
    "rejected": EXIT_FAILED,
    "awaiting_approval": EXIT_AWAITING_APPROVAL,
}


# --- configuration -------------------------------------------------------------------------


class ConfigError(Exception):
    """No token, or a config file that cannot be read; the text is one line for the user."""


@dataclass(frozen=True)
class ClientConfig:
    """Where the gateway is and the token to send it."""

    url: str
    token: str


def config_file(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/schemashift/client.toml``, else ``~/.config/schemashift/client.toml``."""
    base = env.get("XDG_CONFIG_HOME", "")
    # The XDG spec ignores a relative value.
    if not base or not os.path.isabs(base):
        home = env.get("HOME")
        base = str(Path(home) / ".config") if home else str(Path.home() / ".config")
    return Path(base) / "schemashift" / "client.toml"


def _read_config_file(path: Path) -> dict[str, str]:
    import tomllib  # only when a setting is missing: registering the commands stays light

    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    found: dict[str, str] = {}
    for key in ("url", "token"):
        if key in data:
            if not isinstance(data[key], str) or not data[key]:
                raise ConfigError(f"{path}: {key} must be a non-empty string")
            found[key] = data[key]
    return found


def resolve_config(
    url: str | None, token: str | None, env: Mapping[str, str] | None = None
) -> ClientConfig:
    """Each of the URL and the token from the flag, else the environment, else the config file
    (:func:`config_file`); the URL defaults to the gateway's default address."""
    env = os.environ if env is None else env
    url = url or env.get(URL_ENV) or None
    token = token or env.get(TOKEN_ENV) or None
    path = config_file(env)
    if url is None or token is None:
        stored = _read_config_file(path)
        url = url or stored.get("url")
        token = token or stored.get("token")
    if not token:
        raise ConfigError(f"no API token: pass --token, set {TOKEN_ENV}, or set token in {path}")
    return ClientConfig(url=url or DEFAULT_URL, token=token)


# --- arguments -----------------------------------------------------------------------------


def _migration_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a migration id: {text!r}") from None


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (ISO 8601, e.g. 2026-12-03T14:00 or 2026-12-03T14:00+01:00)"
        ) from None


def _status(text: str) -> str:
    # Imported only when the option is given: the events module takes a while to load.
    from schemashift.schemas.events import MigrationStatus

    if text not in {s.value for s in MigrationStatus}:
        raise argparse.ArgumentTypeError(
            f"unknown status {text!r}: use {', '.join(s.value for s in MigrationStatus)}"
        )
    return text


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        dest="api_url",
        metavar="URL",
        help=f"the gateway (default ${URL_ENV}, the config file)",
    )
    common.add_argument(
        "--token",
        dest="api_token",
        metavar="TOKEN",
        help=f"API token (default ${TOKEN_ENV}, the config file)",
    )
    common.add_argument("--json", action="store_true", help="print the API's JSON")
    return common


def _migration_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--apply",
        dest="mode",
        action="store_const",
        const="apply",
        help=f"run {what} at once unless it has a hazard not allowed",
    )
    mode.add_argument(
        "--plan",
        dest="mode",
        action="store_const",
        const="plan",
        help=f"{what} waits for approval (the default)",
    )
    parser.set_defaults(mode="plan")
    parser.add_argument(
        "--allow",
        dest="allow",
        metavar="HAZARD",
        nargs="+",
        action="extend",
        default=[],
        choices=[h.value for h in Hazard],
        help="hazards that may run without approval: " + ", ".join(h.value for h in Hazard),
    )
    parser.add_argument(
        "--concurrent-indexes",
        action="store_true",
        help="create and drop indexes on existing tables CONCURRENTLY",
    )
    parser.add_argument(
        "--follow", action="store_true", help="show the progress until the migration ends"
    )


def add_client_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``compare``, ``migrations`` and ``connections`` (they talk to a gateway)."""
    common = _common_options()

    p = subparsers.add_parser(
        "compare",
        parents=[common],
        help="ask a running gateway to migrate TARGET to SOURCE's schema; print the plan",
    )
    p.add_argument("source", metavar="SOURCE", help="registered connection with the schema")
    p.add_argument("target", metavar="TARGET", help="registered connection to change")
    _migration_options(p, what="the migration")
    p.add_argument("--privileges", action="store_true", help="also compare GRANT/REVOKE")

    p = subparsers.add_parser("migrations", help="list, show, approve, reject, roll back")
    actions = p.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="the history, newest first")
    listing.add_argument("--target", help="only this target connection's")
    listing.add_argument("--status", type=_status, help="only those with this status")
    listing.add_argument(
        "--since", type=_time, help="requested at or after (ISO 8601; without offset: local)"
    )
    listing.add_argument("--until", type=_time, help="requested before (as --since)")
    listing.add_argument("--limit", type=int, default=50, help="at most N (default 50)")
    listing.add_argument("--offset", type=int, default=0, help="skip the N newest")
    show = actions.add_parser("show", parents=[common], help="one migration and its statements")
    show.add_argument("id", type=_migration_id, metavar="ID")
    approve = actions.add_parser("approve", parents=[common], help="approve a planned migration")
    approve.add_argument("id", type=_migration_id, metavar="ID")
    approve.add_argument("--comment", help="why (recorded in the event)")
    approve.add_argument(
        "--follow", action="store_true", help="show the progress until the migration ends"
    )
    reject = actions.add_parser("reject", parents=[common], help="turn down a planned migration")
    reject.add_argument("id", type=_migration_id, metavar="ID")
    reject.add_argument("--comment", help="why (recorded in the event)")
    rollback = actions.add_parser(
        "rollback", parents=[common], help="undo an applied migration (a new migration)"
    )
    rollback.add_argument("id", type=_migration_id, metavar="ID")
    rollback.add_argument("--comment", help="why (recorded in the event)")
    _migration_options(rollback, what="the rollback")

    p = subparsers.add_parser("connections", help="list or register named connections")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", parents=[common], help="every connection, passwords masked")
    add = actions.add_parser("add", parents=[common], help="register (or replace) a connection")
    add.add_argument("name", metavar="NAME")
    add.add_argument("url", metavar="URL", help="database URL, e.g. postgresql://u:pw@h:5432/db")


# --- rendering -----------------------------------------------------------------------------


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, headers on top."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _progress_cell(migration: Json) -> str:
    total = migration.get("total")
    return "-" if total is None else f"{migration.get('progress', 0)}/{total}"


def connections_table(connections: Sequence[Json]) -> str:
    """Registered connections as the API lists them (passwords masked by the gateway)."""
    rows = [[c["name"], c["dialect"], c["url"], _when(c["created_at"])] for c in connections]
    return render_table(["NAME", "DIALECT", "URL", "CREATED (UTC)"], rows)


def migrations_table(migrations: Sequence[Json]) -> str:
    """One line per migration: id, status, mode, source, target, statements applied."""
    rows = [
        [
            m["id"],
            m["status"],
            m.get("mode") or "-",
            m.get("source") or "-",
            m["target"],
            _progress_cell(m),
            _when(m["created_at"]),
        ]
        for m in migrations
    ]
    return render_table(
        ["ID", "STATUS", "MODE", "SOURCE", "TARGET", "PROGRESS", "CREATED (UTC)"], rows
    )


def plan_text(statements: Sequence[Json]) -> str:
    """The statements as a script, each after comment lines naming its hazards (the text of
    `schemashift diff`), under a line that counts them and their hazards."""
    from schemashift.schemas.operations import Statement

    if not statements:
        return "-- no differences"
    script = [Statement.model_validate(s) for s in statements]
    hazards = sorted({h.value for s in script for h in s.hazards})
    count = _count(len(script), "statement")
    head = f"-- {count}; hazards: {', '.join(hazards)}" if hazards else f"-- {count}; no hazards"
    return "\n\n".join([head, *(s.annotated() for s in script)])


def migration_detail(migration: Json) -> str:
    """One migration: its fields, its error if it failed, then its plan."""
    m = migration
    fields = [
        ("id", m["id"]),
        ("status", m["status"]),
        ("mode", m.get("mode") or "-"),
        ("source", m.get("source") or "-"),
        ("target", m["target"]),
        ("progress", _progress_cell(m)),
        ("hazards", ", ".join(m.get("hazards") or []) or "-"),
    ]
    if summary := m.get("summary"):
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.get("by_kind", {}).items()))
        fields.append(
            ("operations", f"{summary.get('total', 0)}" + (f" ({kinds})" if kinds else ""))
        )
    for key in ("approved_by", "rejected_by", "rollback_of"):
        if m.get(key):
            fields.append((key.replace("_", " "), str(m[key])))
    fields += [("created", _when(m["created_at"])), ("updated", _when(m["updated_at"]))]
    if m.get("applied_at"):
        fields.append(("applied at", _when(m["applied_at"])))
    if error := m.get("error"):
        fields.append(("error", f"{error.get('stage', '?')}: {error.get('reason', '')}"))
        if error.get("statement"):
            fields.append(("statement", _first_line(error["statement"])))
        if error.get("database_error"):
            fields.append(("database", _first_line(error["database_error"])))
    width = max(len(name) for name, _ in fields)
    head = "\n".join(f"{name.ljust(width)}  {value}" for name, value in fields)
    if m.get("statements") is None:
        return head
    return f"{head}\n\n{plan_text(m['statements'])}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


class Progress:
    """Statements applied of total and the time since the follow began: a bar redrawn in place
    on a terminal, one plain line per statement otherwise (logs, pipes)."""

    BAR = 24

    def __init__(
        self,
        out: TextIO,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        columns: int | None = None,
    ) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.clock = clock
        self.started = clock()
        self.columns = columns
        self._drawn = False

    def elapsed(self) -> float:
        """Seconds since the follow began."""
        return self.clock() - self.started

    def update(self, done: int, total: int, sql: str) -> None:
        """Statement ``done`` of ``total`` has run."""
        statement = _first_line(sql)
        counts = f"{done}/{total} statements  {self.elapsed():.1f}s"
        if not self.tty:
            print(f"{counts}  {statement}", file=self.out, flush=True)
            return
        filled = self.BAR * done // total if total else self.BAR
        text = f"[{'#' * filled}{'.' * (self.BAR - filled)}] {counts}  {statement}"
        columns = self.columns or shutil.get_terminal_size((100, 24)).columns
        # One column short of the edge: a full line would wrap on some terminals, and then
        # "\r" would redraw only its second half.
        print("\r" + text[: columns - 1].ljust(columns - 1), end="", file=self.out, flush=True)
        self._drawn = True

    def line(self, text: str) -> None:
        """A message on a line of its own (below the bar, if one is drawn)."""
        self.finish()
        print(text, file=self.out, flush=True)

    def finish(self) -> None:
        """End the bar's line, so that what follows starts on a fresh one."""
        if self._drawn:
            print(file=self.out, flush=True)
            self._drawn = False


# --- watching a migration ------------------------------------------------------------------


def _waiting_reason(script: ScriptGenerated) -> str:
    # A plan waits whatever its hazards; in mode apply only hazards not allowed make it wait.
    if script.mode.value == "plan":
        return "mode plan"
    return "hazards not allowed: " + ", ".join(h.value for h in script.unallowed_hazards)


def watch(
    client: GatewayClient,
    migration_id: str,
    *,
    follow: bool,
    progress: Progress | None,
    approved: bool = False,
    show_plan: bool = True,
) -> str:
    """Read the migration's live stream until there is something to tell; the status there.

    That is its plan (printed unless ``show_plan`` is false) when it waits for approval, or,
    without ``follow``, once it is generated and goes ahead; otherwise its end. ``approved``
    says the caller has just approved it: the stream replays the plan's wait, which is then
    over. ``progress`` None prints nothing (for ``--json``).
    """
    from schemashift.gateway.client import GatewayUnreachable
    from schemashift.schemas.events import (
        Event,
        MigrationApplied,
        MigrationApproved,
        MigrationFailed,
        MigrationProgress,
        MigrationRejected,
        ScriptGenerated,
    )

    def say(text: str) -> None:
        if progress is not None:
            progress.line(text)

    with client.event_stream(migration_id) as messages:
        for message in messages:
            if message.event == "end":
                status: str = message.json()["status"]
                return status
            payload = Event.model_validate_json(message.data).payload
            match payload:
                case ScriptGenerated():
                    if show_plan:
                        plan = plan_text([s.model_dump(mode="json") for s in payload.statements])
                        say(plan + "\n")
                    if payload.needs_approval and not approved:
                        say(f"awaiting approval ({_waiting_reason(payload)})")
                        return "awaiting_approval"
                    if not follow:
                        return "generated"
                case MigrationApproved():
                    approved = True
                    say(f"approved by {payload.approved_by or 'an approver'}")
                case MigrationProgress():
                    if progress is not None:
                        progress.update(payload.index + 1, payload.total, payload.sql)
                case MigrationApplied():
                    resumed = (
                        f", resumed at statement {payload.resumed_from + 1}"
                        if payload.resumed_from is not None
                        else ""
                    )
                    count = _count(payload.statements_applied, "statement")
                    say(f"applied {count} in {payload.duration_ms / 1000:.2f}s{resumed}")
                    return "applied"
                case MigrationFailed():
                    say(f"failed in {payload.stage.value}: {payload.reason}")
                    if payload.statement:
                        at = (
                            ""
                            if payload.statement_index is None
                            else f" {payload.statement_index + 1}"
                        )
                        say(f"  at statement{at}: {_first_line(payload.statement)}")
                    if payload.database_error:
                        say(f"  database: {_first_line(payload.database_error)}")
                    return "failed"
                case MigrationRejected():
                    comment = f": {payload.comment}" if payload.comment else ""
                    say(f"rejected by {payload.rejected_by or 'an approver'}{comment}")
                    return "rejected"
    raise GatewayUnreachable("the gateway closed the event stream before the migration ended")


# --- commands ------------------------------------------------------------------------------


def _print_json(value: Any, out: TextIO) -> None:
    print(json.dumps(value, indent=2), file=out)


def _options(args: argparse.Namespace) -> Json:
    options = {
        "privileges": getattr(args, "privileges", False),
        "concurrent_indexes": args.concurrent_indexes,
    }
    return {key: True for key, on in options.items() if on}


def _started(client: GatewayClient, accepted: Json, args: argparse.Namespace, out: TextIO) -> int:
    """After a 202: the new migration's id and link, then :func:`watch` it; the exit code."""
    migration_id = str(accepted["migration_id"])
    if not args.json:
        print(f"migration {migration_id} ({args.mode})", file=out)
        print(f"  {client.link(accepted['links']['self'])}", file=out, flush=True)
    progress = None if args.json else Progress(out)
    status = watch(client, migration_id, follow=args.follow, progress=progress)
    if args.json:
        _print_json(client.get_migration(migration_id), out)
    elif status == "awaiting_approval":
        print(f"approve with: schemashift migrations approve {migration_id}", file=out)
    return _EXIT_BY_STATUS.get(status, EXIT_OK)


def _compare(client: GatewayClient, args: argparse.Namespace, out: TextIO) -> int:
    accepted = client.request_comparison(
        args.source, args.target, mode=args.mode, allow_hazards=args.allow, options=_options(args)
    )
    return _started(client, accepted, args, out)


def _migrations(client: GatewayClient, args: argparse.Namespace, out: TextIO) -> int:
    match args.action:
        case "list":
            page = client.list_migrations(
                target=args.target,
                status=args.status,
                since=args.since,
                until=args.until,
                limit=args.limit,
                offset=args.offset,
            )
            if args.json:
                _print_json(page, out)
            elif page["items"]:
                print(migrations_table(page["items"]), file=out)
            else:
                print("no migrations", file=sys.stderr)
        case "show":
            migration = client.get_migration(args.id)
            if args.json:
                _print_json(migration, out)
            else:
                print(migration_detail(migration), file=out)
        case "approve":
            answer = client.approve(args.id, args.comment)
            if args.json and not args.follow:
                _print_json(answer, out)
            elif not args.json:
                print(f"approved {args.id}", file=out, flush=True)
            if args.follow:
                progress = None if args.json else Progress(out)
                status = watch(
                    client, args.id, follow=True, progress=progress, approved=True, show_plan=False
                )
                if args.json:
                    _print_json(client.get_migration(args.id), out)
                return _EXIT_BY_STATUS.get(status, EXIT_OK)
        case "reject":
            answer = client.reject(args.id, args.comment)
            if args.json:
                _print_json(answer, out)
            else:
                print(f"rejected {args.id}", file=out)
        case "rollback":
            accepted = client.rollback(
                args.id,
                mode=args.mode,
                allow_hazards=args.allow,
                options=_options(args),
                comment=args.comment,
            )
            return _started(client, accepted, args, out)
    return EXIT_OK


def _connections(client: GatewayClient, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "add":
        # What the gateway answers, never the URL as typed: the answer masks the password.
        created = client.add_connection(args.name, args.url)
        if args.json:
            _print_json(created, out)
        else:
            print(connections_table([created]), file=out)
        return EXIT_OK
    listed = client.list_connections()
    if args.json:
        _print_json(listed, out)
    elif listed:
        print(connections_table(listed), file=out)
    else:
        print("no connections", file=sys.stderr)
    return EXIT_OK


def _fail(reason: str, *secrets: str | None) -> int:
    from schemashift.consumers.common.redact import redact_text

    text = redact_text(reason, *secrets).strip()
    line = text.splitlines()[0] if text else "unknown error"
    print(f"schemashift: error: {line[:500]}", file=sys.stderr)
    return EXIT_ERROR


def run_client_command(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run a command of :func:`add_client_commands`; its exit code.

    0: done (a migration applied or going ahead), 1: the migration failed or was rejected,
    2: the gateway is unreachable, refused the token or the request, 3: it awaits approval.
    ``env``, ``transport`` and ``stdout`` replace the process's (for tests).
    """
    from schemashift.gateway.client import GatewayClient, GatewayError

    out = sys.stdout if stdout is None else stdout
    token = None
    try:
        config = resolve_config(args.api_url, args.api_token, env)
        token = config.token
        with GatewayClient(config.url, config.token, transport=transport) as client:
            match args.command:
                case "compare":
                    return _compare(client, args, out)
                case "migrations":
                    return _migrations(client, args, out)
                case _:
                    return _connections(client, args, out)
    except (ConfigError, GatewayError) as exc:
        from schemashift.consumers.common.redact import url_password

        typed = getattr(args, "url", None)  # `connections add`'s URL, should it echo back
        return _fail(str(exc), token, url_password(typed) if typed else None)
