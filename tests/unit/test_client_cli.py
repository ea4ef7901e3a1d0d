"""The client commands (compare, migrations, connections) against a fake gateway: where the
URL and token come from, what is printed, the exit codes, and the one-line errors."""

from __future__ import annotations

import io
import json
import re
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemashift.gateway.cli import build_parser
from schemashift.gateway.client import GatewayClient, parse_sse
from schemashift.gateway.client_cli import (
    ClientConfig,
    ConfigError,
    Progress,
    config_file,
    connections_table,
    migrations_table,
    resolve_config,
    run_client_command,
)
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.events import (
    ComparisonRequested,
    DiffComputed,
    DiffSummary,
    Event,
    MigrationApplied,
    MigrationApproved,
    MigrationFailed,
    MigrationProgress,
    MigrationRejected,
    Mode,
    ScriptGenerated,
    Stage,
)
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Statement

TOKEN = "ss_Token-Secret-4f7a"
BASE = "http://gateway.test:8000"
MIGRATION = str(uuid.UUID("7c0e2d4a-5b1f-4a8e-9c3d-2f6b8a1e0d57"))
CREATED = "2025-03-14T09:26:53.589793Z"

STATEMENTS = [
    Statement(
        sql="ALTER TABLE public.customers ALTER COLUMN email TYPE varchar(255);",
        kind="alter_column",
        object="public.customers.email",
        hazards=[Hazard.TABLE_REWRITE],
    ),
    Statement(
        sql="CREATE INDEX orders_customer_idx ON public.orders (customer_id);",
        kind="create_index",
        object="public.orders_customer_idx",
        hazards=[Hazard.INDEX_BUILD],
    ),
    Statement(
        sql="DROP TABLE public.legacy;",
        kind="drop_table",
        object="public.legacy",
        hazards=[Hazard.DATA_LOSS, Hazard.IRREVERSIBLE],
    ),
]
ALL = [h.value for h in Hazard]


# --- a fake gateway ------------------------------------------------------------------------


def _event(payload: Any, mid: str = MIGRATION) -> Event:
    return Event(
        type=payload.type, migration_id=uuid.UUID(mid), target="prod", producer="t", payload=payload
    )


def requested(mode: Mode = Mode.APPLY) -> Event:
    return _event(ComparisonRequested(source="staging", target="prod", mode=mode))


def computed(mode: Mode = Mode.APPLY) -> Event:
    return _event(
        DiffComputed(
            source="staging",
            target="prod",
            mode=mode,
            dialect=Dialect.POSTGRESQL,
            operations=[],
            summary=DiffSummary(total=3, by_kind={"alter": 1, "create": 1, "drop": 1}),
            source_fingerprint="a" * 16,
            target_fingerprint="b" * 16,
        )
    )


def generated(mode: Mode = Mode.APPLY, allow: list[str] = ALL) -> Event:
    return _event(
        ScriptGenerated(
            target="prod",
            mode=mode,
            dialect=Dialect.POSTGRESQL,
            statements=STATEMENTS,
            reverse_statements=[],
            checksum="c" * 16,
            target_fingerprint="b" * 16,
            hazards=sorted({h for s in STATEMENTS for h in s.hazards}),
            allow_hazards=[Hazard(h) for h in allow],
        )
    )


def progress() -> list[Event]:
    return [
        _event(MigrationProgress(index=i, total=len(STATEMENTS), sql=s.sql, duration_ms=12.5))
        for i, s in enumerate(STATEMENTS)
    ]


def applied() -> Event:
    return _event(MigrationApplied(statements_applied=3, duration_ms=143.0, checksum="c" * 16))


def failed() -> Event:
    return _event(
        MigrationFailed(
            stage=Stage.EXECUTE,
            reason="lock timeout on public.orders",
            statement=STATEMENTS[1].sql,
            statement_index=1,
        )
    )


def sse(events: list[Event], end: str | None) -> bytes:
    """A live stream as the gateway sends it: id, event, data; keep-alives between."""
    parts = [
        f"id: {seq}\nevent: {e.type.value}\ndata: {e.model_dump_json()}\n\n: keep-alive\n\n"
        for seq, e in enumerate(events, 1)
    ]
    if end:
        parts.append(f"event: end\ndata: {json.dumps({'status': end})}\n\n")
    return "".join(parts).encode()


def migration_json(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": MIGRATION,
        "source": "staging",
        "target": "prod",
        "mode": "apply",
        "status": status,
        "summary": {"total": 3, "by_kind": {"alter": 1, "create": 1, "drop": 1}},
        "statements": [s.model_dump(mode="json") for s in STATEMENTS],
        "reverse_statements": [],
        "hazards": ["data_loss", "index_build", "irreversible", "table_rewrite"],
        "checksum": "c" * 16,
        "progress": 3 if status == "applied" else 0,
        "total": 3,
        "error": None,
        "approved_by": None,
        "rejected_by": None,
        "rollback_of": None,
        "created_at": CREATED,
        "updated_at": CREATED,
        "applied_at": None,
    } | extra


def accepted(mid: str = MIGRATION) -> dict[str, Any]:
    base = f"/api/v1/migrations/{mid}"
    return {
        "migration_id": mid,
        "status": "requested",
        "links": {
            "self": base,
            "events": f"{base}/events",
            "approve": f"{base}/approve",
            "reject": f"{base}/reject",
            "rollback": f"{base}/rollback",
        },
    }


Handler = Callable[[httpx.Request], httpx.Response]


class FakeGateway:
    """Answers the routes it is given, after checking the bearer token as the gateway does."""

    def __init__(self, routes: dict[tuple[str, str], Handler], token: str = TOKEN) -> None:
        self.routes = routes
        self.token = token
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"detail": "a valid bearer token is required"})
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return httpx.Response(404, json={"detail": f"no route {request.url.path}"})
        return handler(request)

    def bodies(self, method: str, path: str) -> list[Any]:
        return [
            json.loads(r.content) for r in self.requests if (r.method, r.url.path) == (method, path)
        ]


def answer(status: int, body: Any) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def stream(events: list[Event], end: str | None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept"] == "text/event-stream"
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse(events, end)
        )

    return handler


def comparing(events: list[Event], end: str | None, final: dict[str, Any]) -> FakeGateway:
    """A gateway that accepts a comparison and streams ``events`` for it."""
    return FakeGateway(
        {
            ("POST", "/api/v1/comparisons"): answer(202, accepted()),
            ("GET", f"/api/v1/migrations/{MIGRATION}/events"): stream(events, end),
            ("GET", f"/api/v1/migrations/{MIGRATION}"): answer(200, final),
        }
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a user with no config file, pointed at the fake gateway."""
    return {
        "HOME": str(tmp_path / "home"),
        "SCHEMASHIFT_API_URL": BASE,
        "SCHEMASHIFT_API_TOKEN": TOKEN,
    }


def run(
    argv: list[str],
    gateway: FakeGateway | None,
    env: dict[str, str],
    stdout: io.StringIO | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    transport = httpx.MockTransport(gateway) if gateway else None
    return run_client_command(args, env=env, transport=transport, stdout=stdout)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert err.count("\n") == 1 and err.startswith("schemashift: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    assert TOKEN not in err


# --- configuration -------------------------------------------------------------------------


def write_config(directory: Path, text: str) -> Path:
    path = directory / "schemashift" / "client.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def test_config_file_is_under_xdg_config_home_else_home_dot_config(tmp_path):
    assert config_file({"XDG_CONFIG_HOME": str(tmp_path), "HOME": "/h"}) == (
        tmp_path / "schemashift" / "client.toml"
    )
    assert config_file({"HOME": "/h"}) == Path("/h/.config/schemashift/client.toml")
    # A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
    assert config_file({"XDG_CONFIG_HOME": "rel", "HOME": "/h"}) == (
        Path("/h/.config/schemashift/client.toml")
    )


def test_flag_beats_environment_beats_config_file(tmp_path):
    write_config(tmp_path, 'url = "http://file:1"\ntoken = "file-token"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert resolve_config(None, None, env).url == "http://file:1"
    assert resolve_config(None, None, env).token == "file-token"
    env |= {"SCHEMASHIFT_API_URL": "http://env:2", "SCHEMASHIFT_API_TOKEN": "env-token"}
    assert (resolve_config(None, None, env).url, resolve_config(None, None, env).token) == (
        "http://env:2",
        "env-token",
    )
    flagged = resolve_config("http://flag:3", "flag-token", env)
    assert (flagged.url, flagged.token) == ("http://flag:3", "flag-token")


def test_each_setting_is_resolved_on_its_own(tmp_path):
    write_config(tmp_path, 'url = "http://file:1"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path), "SCHEMASHIFT_API_TOKEN": "env-token"}
    assert resolve_config(None, None, env) == ClientConfig("http://file:1", "env-token")
    write_config(tmp_path / "other", 'token = "file-token"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "other"), "SCHEMASHIFT_API_URL": "http://env:2"}
    assert resolve_config(None, None, env) == ClientConfig("http://env:2", "file-token")
    # Without a URL anywhere: the gateway's default address.
    env = {"HOME": str(tmp_path / "nobody")}
    assert resolve_config(None, "t", env) == ClientConfig("http://127.0.0.1:8000", "t")


def test_the_url_given_is_the_one_called(tmp_path, capsys):
    write_config(tmp_path, f'url = "http://from-file:9"\ntoken = "{TOKEN}"\n')
    gateway = FakeGateway({("GET", "/api/v1/connections"): answer(200, [])})
    env = {"XDG_CONFIG_HOME": str(tmp_path), "SCHEMASHIFT_API_URL": "http://from-env:7"}
    assert run(["connections", "list"], gateway, env) == 0
    assert run(["connections", "list", "--url", "http://from-flag:5"], gateway, env) == 0
    del env["SCHEMASHIFT_API_URL"]
    assert run(["connections", "list"], gateway, env) == 0
    called = [f"{r.url.host}:{r.url.port}" for r in gateway.requests]
    assert called == ["from-env:7", "from-flag:5", "from-file:9"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in gateway.requests)


def test_no_token_anywhere_is_a_one_line_error(tmp_path, capsys):
    env = {"HOME": str(tmp_path)}
    assert run(["connections", "list"], None, env) == 2
    assert_one_line_error(capsys.readouterr().err, "no API token", "SCHEMASHIFT_API_TOKEN")


def test_an_invalid_config_file_is_a_one_line_error(tmp_path, capsys):
    path = write_config(tmp_path, "token = \n")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        resolve_config(None, None, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert run(["connections", "list"], None, {"XDG_CONFIG_HOME": str(tmp_path)}) == 2
    assert_one_line_error(capsys.readouterr().err, "cannot read", str(path))


# --- tables and --json ---------------------------------------------------------------------

CONNECTIONS = [
    {
        "name": "staging",
        "dialect": "postgresql",
        "url": "postgresql://app:***@db.internal:5432/app",
        "created_at": CREATED,
    },
    {
        "name": "prod",
        "dialect": "postgresql",
        "url": "postgresql://app:***@prod.internal:5432/app",
        "created_at": CREATED,
    },
]


def test_connections_list_is_a_table_and_json_is_the_apis(env, capsys):
    gateway = FakeGateway({("GET", "/api/v1/connections"): answer(200, CONNECTIONS)})
    assert run(["connections", "list"], gateway, env) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "NAME     DIALECT     URL                                          CREATED (UTC)",
        "staging  postgresql  postgresql://app:***@db.internal:5432/app    2025-03-14 09:26:53",
        "prod     postgresql  postgresql://app:***@prod.internal:5432/app  2025-03-14 09:26:53",
    ]
    assert run(["connections", "list", "--json"], gateway, env) == 0
    assert json.loads(capsys.readouterr().out) == CONNECTIONS


def test_connections_add_prints_what_the_gateway_answers_not_the_url_typed(env, capsys):
    gateway = FakeGateway({("POST", "/api/v1/connections"): answer(201, CONNECTIONS[0])})
    typed = "postgresql://app:Hunter2-pw@db.internal:5432/app"
    assert run(["connections", "add", "staging", typed], gateway, env) == 0
    out = capsys.readouterr().out
    assert "Hunter2-pw" not in out and "postgresql://app:***@db.internal:5432/app" in out
    assert gateway.bodies("POST", "/api/v1/connections") == [{"name": "staging", "url": typed}]


def test_a_refused_connection_url_is_not_echoed(env, capsys):
    detail = [{"type": "value_error", "loc": ["body", "url"], "msg": "Value error, bad scheme"}]
    gateway = FakeGateway({("POST", "/api/v1/connections"): answer(422, {"detail": detail})})
    typed = "oracle://app:Hunter2-pw@db/app"
    assert run(["connections", "add", "x", typed], gateway, env) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, "url: Value error, bad scheme (422)")
    assert "Hunter2-pw" not in captured.err + captured.out


def test_migrations_list_table_filters_and_json(env, capsys):
    page = {
        "items": [
            migration_json("applied"),
            migration_json("awaiting_approval", id=str(uuid.UUID(int=1)), mode="plan"),
        ],
        "limit": 5,
        "offset": 0,
    }
    gateway = FakeGateway({("GET", "/api/v1/migrations"): answer(200, page)})
    argv = ["migrations", "list", "--target", "prod", "--status", "applied", "--limit", "5"]
    assert run(argv, gateway, env) == 0
    assert dict(gateway.requests[0].url.params) == {
        "target": "prod",
        "status": "applied",
        "limit": "5",
        "offset": "0",
    }
    assert capsys.readouterr().out.splitlines() == migrations_table(page["items"]).splitlines()
    assert migrations_table(page["items"]).splitlines()[1:] == [
        f"{MIGRATION}  applied            apply  staging  prod    3/3       2025-03-14 09:26:53",
        "00000000-0000-0000-0000-000000000001  awaiting_approval  plan   staging  prod    "
        "0/3       2025-03-14 09:26:53",
    ]
    assert run([*argv, "--json"], gateway, env) == 0
    assert json.loads(capsys.readouterr().out) == page


def test_migrations_list_sends_the_time_range_with_its_offset(env, capsys):
    page = {"items": [], "limit": 50, "offset": 0}
    gateway = FakeGateway({("GET", "/api/v1/migrations"): answer(200, page)})
    argv = ["migrations", "list", "--since", "2026-12-03T14:00+01:00", "--until", "2026-12-04"]
    assert run(argv, gateway, env) == 0
    params = dict(gateway.requests[0].url.params)
    assert params["since"] == "2026-12-03T14:00:00+01:00"
    # A time without an offset is the local one, sent with the local offset.
    assert datetime.fromisoformat(params["until"]) == datetime(2026, 12, 4).astimezone()
    assert datetime.fromisoformat(params["until"]).tzinfo is not None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["migrations", "list", "--since", "yesterday"])
    assert "not a time: 'yesterday'" in capsys.readouterr().err


def test_an_unknown_status_is_refused_before_any_request(env, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["migrations", "list", "--status", "done"])
    assert exit_.value.code == 2
    assert "unknown status 'done'" in capsys.readouterr().err


def test_migrations_show_prints_the_fields_and_the_plan(env, capsys):
    error = {"stage": "execute", "reason": "lock timeout", "statement": STATEMENTS[1].sql}
    gateway = FakeGateway(
        {
            ("GET", f"/api/v1/migrations/{MIGRATION}"): answer(
                200, migration_json("failed", error=error)
            )
        }
    )
    assert run(["migrations", "show", MIGRATION], gateway, env) == 0
    out = capsys.readouterr().out
    assert f"id          {MIGRATION}" in out
    assert "operations  3 (1 alter, 1 create, 1 drop)" in out
    assert "error       execute: lock timeout" in out
    assert "-- hazards: data_loss, irreversible\nDROP TABLE public.legacy;" in out


# --- compare and its exit codes ------------------------------------------------------------


def test_compare_follow_applied_exits_0_with_the_plan_and_progress(env, capsys):
    events = [requested(), computed(), generated(), *progress(), applied()]
    gateway = comparing(events, "applied", migration_json("applied"))
    argv = ["compare", "staging", "prod", "--apply", "--allow", *ALL, "--follow"]
    assert run(argv, gateway, env) == 0
    assert gateway.bodies("POST", "/api/v1/comparisons") == [
        {"source": "staging", "target": "prod", "mode": "apply", "allow_hazards": ALL}
    ]
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"migration {MIGRATION} (apply)"
    assert lines[1] == f"  {BASE}/api/v1/migrations/{MIGRATION}"
    assert (
        lines[2] == "-- 3 statements; hazards: data_loss, index_build, irreversible, table_rewrite"
    )
    assert "-- hazards: table_rewrite\nALTER TABLE public.customers" in out
    # Not a terminal: one plain line per statement, no carriage returns.
    assert "\r" not in out
    shown = [line for line in lines if re.match(r"\d/3 statements  \d+\.\ds  ", line)]
    assert [line.split()[0] for line in shown] == ["1/3", "2/3", "3/3"]
    assert shown[2].endswith("DROP TABLE public.legacy;")
    assert lines[-1] == "applied 3 statements in 0.14s"


def test_compare_follow_failed_exits_1_with_the_reason(env, capsys):
    events = [requested(), computed(), generated(), progress()[0], failed()]
    gateway = comparing(events, "failed", migration_json("failed"))
    argv = ["compare", "staging", "prod", "--apply", "--allow", *ALL, "--follow"]
    assert run(argv, gateway, env) == 1
    out = capsys.readouterr().out
    assert "failed in execute: lock timeout on public.orders" in out
    assert "  at statement 2: CREATE INDEX orders_customer_idx" in out


def test_a_rejection_seen_while_following_exits_1(env, capsys):
    # Two approvers at once: the other one's rejection is stored before this approval.
    events = [
        requested(Mode.PLAN),
        computed(Mode.PLAN),
        generated(Mode.PLAN),
        _event(MigrationRejected(rejected_by="dba", comment="not on a Friday")),
    ]
    gateway = FakeGateway(
        {
            ("POST", f"/api/v1/migrations/{MIGRATION}/approve"): answer(
                202, migration_json("approved")
            ),
            ("GET", f"/api/v1/migrations/{MIGRATION}/events"): stream(events, "rejected"),
        }
    )
    assert run(["migrations", "approve", MIGRATION, "--follow"], gateway, env) == 1
    assert "rejected by dba: not on a Friday" in capsys.readouterr().out


def test_compare_follow_awaiting_approval_exits_3_naming_the_hazards(env, capsys):
    # The stream stays open while the migration waits: the command must not wait for its end.
    events = [requested(), computed(), generated(allow=["index_build", "table_rewrite"])]
    gateway = comparing(events, None, migration_json("awaiting_approval"))
    argv = ["compare", "staging", "prod", "--apply", "--allow", "index_build", "table_rewrite"]
    assert run([*argv, "--follow"], gateway, env) == 3
    out = capsys.readouterr().out
    assert "-- hazards: data_loss, irreversible\nDROP TABLE public.legacy;" in out
    assert "awaiting approval (hazards not allowed: data_loss, irreversible)" in out
    assert out.splitlines()[-1] == f"approve with: schemashift migrations approve {MIGRATION}"


def test_compare_plan_without_follow_prints_the_plan_and_exits_3(env, capsys):
    # Hazards the request did not allow: a plan waits all the same, and says it is for the mode.
    events = [requested(Mode.PLAN), computed(Mode.PLAN), generated(Mode.PLAN, allow=[])]
    gateway = comparing(events, None, migration_json("awaiting_approval", mode="plan"))
    assert run(["compare", "staging", "prod", "--plan"], gateway, env) == 3
    assert gateway.bodies("POST", "/api/v1/comparisons")[0]["mode"] == "plan"
    out = capsys.readouterr().out
    assert f"migration {MIGRATION} (plan)" in out
    assert "awaiting approval (mode plan)" in out


def test_compare_without_follow_stops_at_the_plan_and_exits_0(env, capsys):
    events = [requested(), computed(), generated(), *progress(), applied()]
    gateway = comparing(events, "applied", migration_json("applied"))
    assert run(["compare", "staging", "prod", "--apply", "--allow", *ALL], gateway, env) == 0
    out = capsys.readouterr().out
    assert "DROP TABLE public.legacy;" in out
    assert "statements  " not in out and "applied 3" not in out


def test_compare_json_prints_the_migration_as_the_api_answers(env, capsys):
    events = [requested(), computed(), generated(), *progress(), applied()]
    final = migration_json("applied")
    gateway = comparing(events, "applied", final)
    argv = ["compare", "staging", "prod", "--apply", "--allow", *ALL, "--follow", "--json"]
    assert run(argv, gateway, env) == 0
    assert json.loads(capsys.readouterr().out) == final


def test_compare_follow_on_a_terminal_redraws_one_bar(env, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # the width shutil.get_terminal_size reports
    events = [requested(), computed(), generated(), *progress(), applied()]
    terminal = Terminal()
    argv = ["compare", "staging", "prod", "--apply", "--allow", *ALL, "--follow"]
    assert run(argv, comparing(events, "applied", {}), env, stdout=terminal) == 0
    out = terminal.getvalue()
    assert out.count("\r[") == 3
    assert "\r[################........] 2/3 statements  " in out
    # The bar's line is ended before the outcome is printed.
    assert re.search(r"\r\[#{24}\] 3/3 statements .*\napplied 3 statements", out)


def test_a_stream_that_ends_early_is_an_error(env, capsys):
    gateway = comparing([requested(), computed(), generated(), progress()[0]], None, {})
    argv = ["compare", "staging", "prod", "--apply", "--allow", *ALL, "--follow"]
    assert run(argv, gateway, env) == 2
    assert_one_line_error(capsys.readouterr().err, "closed the event stream")


def test_approve_follow_reaches_applied_though_the_plan_waited(env, capsys):
    events = [
        requested(Mode.PLAN),
        computed(Mode.PLAN),
        generated(Mode.PLAN),
        _event(MigrationApproved(approved_by="dba", comment="reviewed")),
        *progress(),
        applied(),
    ]
    gateway = FakeGateway(
        {
            ("POST", f"/api/v1/migrations/{MIGRATION}/approve"): answer(
                202, migration_json("approved")
            ),
            ("GET", f"/api/v1/migrations/{MIGRATION}/events"): stream(events, "applied"),
        }
    )
    argv = ["migrations", "approve", MIGRATION, "--comment", "reviewed", "--follow"]
    assert run(argv, gateway, env) == 0
    assert gateway.bodies("POST", f"/api/v1/migrations/{MIGRATION}/approve") == [
        {"comment": "reviewed"}
    ]
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"approved {MIGRATION}"
    assert "approved by dba" in out and out.splitlines()[-1] == "applied 3 statements in 0.14s"


def test_reject_without_a_comment_sends_none(env, capsys):
    gateway = FakeGateway(
        {("POST", f"/api/v1/migrations/{MIGRATION}/reject"): answer(202, migration_json("x"))}
    )
    assert run(["migrations", "reject", MIGRATION], gateway, env) == 0
    assert gateway.bodies("POST", f"/api/v1/migrations/{MIGRATION}/reject") == [{}]
    assert capsys.readouterr().out == f"rejected {MIGRATION}\n"


def test_rollback_starts_a_new_migration_and_prints_its_plan(env, capsys):
    new = str(uuid.uuid4())
    events = [
        _event(e.payload, new) for e in (requested(Mode.PLAN), computed(), generated(Mode.PLAN))
    ]
    gateway = FakeGateway(
        {
            ("POST", f"/api/v1/migrations/{MIGRATION}/rollback"): answer(202, accepted(new)),
            ("GET", f"/api/v1/migrations/{new}/events"): stream(events, None),
        }
    )
    argv = ["migrations", "rollback", MIGRATION, "--allow", "data_loss", "--comment", "broke"]
    assert run(argv, gateway, env) == 3
    assert gateway.bodies("POST", f"/api/v1/migrations/{MIGRATION}/rollback") == [
        {"mode": "plan", "allow_hazards": ["data_loss"], "comment": "broke"}
    ]
    assert f"migration {new} (plan)" in capsys.readouterr().out


# --- errors --------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_gateway_is_exit_2_with_one_line(env, capsys):
    env["SCHEMASHIFT_API_URL"] = f"http://127.0.0.1:{closed_port()}"
    assert run(["migrations", "list"], None, env) == 2
    assert_one_line_error(
        capsys.readouterr().err, f"cannot reach the gateway at {env['SCHEMASHIFT_API_URL']}"
    )


def test_a_refused_token_is_exit_2_with_one_line(env, capsys):
    gateway = FakeGateway({("GET", "/api/v1/connections"): answer(200, [])}, token="another")
    assert run(["connections", "list"], gateway, env) == 2
    assert_one_line_error(
        capsys.readouterr().err, "refused the token", "a valid bearer token is required (401)"
    )


def test_a_token_without_the_scope_is_exit_2_with_the_reason(env, capsys):
    reason = "the token 'ci-read' lacks the 'approve' scope"
    gateway = FakeGateway(
        {("POST", f"/api/v1/migrations/{MIGRATION}/approve"): answer(403, {"detail": reason})}
    )
    assert run(["migrations", "approve", MIGRATION], gateway, env) == 2
    assert_one_line_error(capsys.readouterr().err, f"refused the token: {reason} (403)")


@pytest.mark.parametrize(
    ("argv", "route", "status", "detail"),
    [
        (
            ["compare", "staging", "nope"],
            ("POST", "/api/v1/comparisons"),
            404,
            "no connection named 'nope' is registered",
        ),
        (
            ["migrations", "approve", MIGRATION],
            ("POST", f"/api/v1/migrations/{MIGRATION}/approve"),
            409,
            "migration is applied, not awaiting_approval",
        ),
    ],
)
def test_a_refused_request_prints_the_apis_reason(env, capsys, argv, route, status, detail):
    gateway = FakeGateway({route: answer(status, {"detail": detail})})
    assert run(argv, gateway, env) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, f"{detail} ({status})")
    assert captured.out == ""


# --- pieces --------------------------------------------------------------------------------


def test_sse_parsing_follows_the_rules_the_gateway_relies_on():
    lines = [
        ": keep-alive",
        "",
        "id: 4",
        "event: migration.progress",
        'data: {"a":',
        "data:1}",
        "",
        "event: end",
        'data: {"status": "applied"}',
    ]
    messages = list(parse_sse(lines))
    assert [(m.event, m.id) for m in messages] == [("migration.progress", "4"), ("end", "4")]
    assert messages[0].data == '{"a":\n1}' and messages[0].json() == {"a": 1}
    assert messages[1].json() == {"status": "applied"}


def test_progress_plain_and_on_a_terminal():
    now = [100.0]
    plain = io.StringIO()
    Progress(plain, clock=lambda: now[0]).update(1, 4, "ALTER TABLE t\n  ADD c int;")
    assert plain.getvalue() == "1/4 statements  0.0s  ALTER TABLE t\n"
    terminal = Terminal()
    bar = Progress(terminal, clock=lambda: now[0], columns=60)
    now[0] += 2.5
    bar.update(1, 4, "ALTER TABLE public.customers ALTER COLUMN email TYPE varchar(255);")
    line = "[######..................] 1/4 statements  2.5s  ALTER TABLE public.customers"
    assert terminal.getvalue() == "\r" + line[:59]
    bar.line("applied")
    assert terminal.getvalue().endswith(line[:59] + "\napplied\n")


def test_table_columns_fit_their_widest_cell():
    assert connections_table([]) == "NAME  DIALECT  URL  CREATED (UTC)"
    assert migrations_table([migration_json("applied", mode=None, total=None)]).splitlines()[1] == (
        f"{MIGRATION}  applied  -     staging  prod    -         2025-03-14 09:26:53"
    )


def test_the_client_sends_the_token_and_maps_answers():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500, text="boom")

    with GatewayClient(BASE + "/", TOKEN, transport=httpx.MockTransport(handler)) as client:
        assert client.link("/api/v1/migrations/x") == f"{BASE}/api/v1/migrations/x"
        with pytest.raises(Exception, match=r"Internal Server Error \(500\)") as raised:
            client.get_migration(MIGRATION)
    assert type(raised.value).__name__ == "ApiError"
    assert getattr(raised.value, "status", None) == 500
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert str(seen[0].url) == f"{BASE}/api/v1/migrations/{MIGRATION}"


def test_created_times_are_shown_in_utc():
    local = datetime(2025, 3, 14, 11, 26, 53).astimezone()
    row = migrations_table([migration_json("applied", created_at=local.isoformat())])
    expected = local.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert row.splitlines()[1].endswith(expected)


def test_an_error_is_one_line_and_never_shows_the_token(env, capsys):
    detail = f"refused {TOKEN} for postgresql://u:Hunter2-pw@h/db\nTraceback (most recent call)"
    gateway = FakeGateway({("GET", "/api/v1/connections"): answer(400, {"detail": detail})})
    assert run(["connections", "list"], gateway, env) == 2
    err = capsys.readouterr().err
    assert_one_line_error(err, "refused *** for postgresql://u:***@h/db")
    assert "Hunter2-pw" not in err and "Traceback" not in err
