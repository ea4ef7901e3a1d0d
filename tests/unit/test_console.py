"""The web console without a server: its session cookie (signing, encryption, expiry), the
keys derived from the server's secret, the CSRF check, the migration page rendered from
stored-event shapes, and which actions each scope is offered and allowed."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from schemashift.consumers.common import secrets
from schemashift.consumers.common.settings import Settings
from schemashift.consumers.tracker import store
from schemashift.gateway.api.app import create_app
from schemashift.gateway.console import render as views
from schemashift.gateway.console import routes
from schemashift.gateway.console.session import (
    COOKIE,
    CsrfRefused,
    SessionCodec,
    check_csrf,
)
from schemashift.gateway.tokens import Principal, Scope
from schemashift.schemas.events import (
    Event,
    MigrationFailed,
    Mode,
    ScriptGenerated,
    Stage,
)
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Statement
from tests.support.flows import T0, migration_flow

TOKEN = "ss_0123456789abcdef_" + "s" * 43


def _codec(max_age_s: int = 3600, signing: bytes = b"k" * 32) -> SessionCodec:
    return SessionCodec(signing_key=signing, encryption_key=b"e" * 32, max_age_s=max_age_s)


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A server secret of this test alone (the derived keys are cached per process)."""
    key = Fernet.generate_key().decode()
    monkeypatch.setattr(secrets, "get_settings", lambda: Settings(secret_key=key))
    secrets.derive_key.cache_clear()
    yield key
    secrets.derive_key.cache_clear()


# --- session cookie ----------------------------------------------------------------------


def test_a_session_survives_its_cookie_and_keeps_the_token_out_of_it():
    codec = _codec()
    session = codec.new(TOKEN)
    value = codec.encode(session)
    assert codec.decode(value) == session
    assert TOKEN not in value and "s" * 20 not in value, "the token is readable in the cookie"
    assert session.csrf and codec.new(TOKEN).csrf != session.csrf


def test_a_tampered_cookie_or_one_signed_with_another_key_is_no_session():
    codec = _codec()
    value = codec.encode(codec.new(TOKEN))
    payload, _, signature = value.rpartition(".")
    # The first character: the last one's low bits are base64 padding, and a change there
    # can decode to the same signature.
    flipped = ("A" if signature[0] != "A" else "g") + signature[1:]
    assert codec.decode(f"{payload}.{flipped}") is None
    assert codec.decode(value[:-2]) is None
    assert _codec(signing=b"x" * 32).decode(value) is None
    assert codec.decode("") is None and codec.decode(None) is None
    assert codec.decode("not-a-cookie") is None


def test_a_cookie_expires_after_max_age(monkeypatch: pytest.MonkeyPatch):
    import itsdangerous.timed

    codec = _codec(max_age_s=600)
    now = 1_800_000_000
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now)
    value = codec.encode(codec.new(TOKEN))
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + 599)
    assert codec.decode(value) is not None
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + 601)
    assert codec.decode(value) is None


def test_the_cookie_keys_are_derived_per_purpose_never_the_secret_itself(secret_key: str):
    signing = secrets.derive_key("console-session-signing")
    token = secrets.derive_key("console-session-token")
    assert len(signing) == len(token) == 32
    assert signing != token
    assert signing not in secret_key.encode() and secret_key.encode() not in signing
    secrets.derive_key.cache_clear()
    assert secrets.derive_key("console-session-signing") == signing, "not stable"


def test_another_server_secret_gives_other_keys(monkeypatch: pytest.MonkeyPatch, secret_key):
    first = secrets.derive_key("console-session-signing")
    other = Fernet.generate_key().decode()
    monkeypatch.setattr(secrets, "get_settings", lambda: Settings(secret_key=other))
    secrets.derive_key.cache_clear()
    assert secrets.derive_key("console-session-signing") != first


# --- CSRF -------------------------------------------------------------------------------


def test_csrf_is_refused_when_missing_or_wrong_and_passes_when_right():
    session = _codec().new(TOKEN)
    with pytest.raises(CsrfRefused, match="no CSRF token"):
        check_csrf(session, None)
    with pytest.raises(CsrfRefused, match="does not match"):
        check_csrf(session, session.csrf[:-1] + "x")
    with pytest.raises(CsrfRefused):
        check_csrf(_codec().new(TOKEN), session.csrf)  # another session's token
    check_csrf(session, session.csrf)


# --- rendering --------------------------------------------------------------------------

HAZARDOUS = Statement(
    sql="DROP TABLE public.legacy",
    kind="drop_table",
    object="public.legacy",
    hazards=[Hazard.DATA_LOSS, Hazard.IRREVERSIBLE],
)
SAFE = Statement(sql="CREATE TABLE public.fresh ()", kind="create_table", object="public.fresh")
UNDO = Statement(sql="DROP TABLE public.fresh", kind="drop_table", object="public.fresh")


def _planned() -> list[Event]:
    """A migration in mode plan up to its script, which has a hazardous statement."""
    request, diff, script = migration_flow(Mode.PLAN, statements=2)[:3]
    assert isinstance(script.payload, ScriptGenerated)
    payload = script.payload.model_copy(
        update={
            "statements": [HAZARDOUS, SAFE],
            "reverse_statements": [UNDO],
            "hazards": [Hazard.DATA_LOSS, Hazard.IRREVERSIBLE],
        }
    )
    return [request, diff, script.model_copy(update={"payload": payload})]


def _row(events: list[Event]) -> dict:
    row = None
    for seq, event in enumerate(events, 1):
        row = store.project(row, event, seq)
    assert row is not None
    return row


def _render(events: list[Event], who: Principal) -> str:
    row = _row(events)
    stored = list(enumerate(events, 1))
    context = views.migration_context(row, stored, who, "csrf-value")
    return views.render("migration.html", prefix="/ui", nav="", notice=None, **context)


READER = Principal("viewer", frozenset({Scope.READ, Scope.TRIGGER}))
APPROVER = Principal("dba", frozenset({Scope.READ, Scope.APPROVE}))


def test_a_waiting_migration_shows_its_hazards_per_statement_and_its_reverse_script():
    html = _render(_planned(), APPROVER)
    assert 'data-status="awaiting_approval"' in html
    items = re.findall(r'<li class="([^"]*)">(.*?)</li>', html, re.S)
    statements = {
        sql: cls for cls, body in items for sql in re.findall(r"<code>(.*?)</code>", body)
    }
    assert "hazardous" in statements["DROP TABLE public.legacy"]
    assert "hazardous" not in statements["CREATE TABLE public.fresh ()"]
    legacy = next(body for _, body in items if "public.legacy</code>" in body)
    assert ">data loss<" in legacy and ">irreversible<" in legacy
    assert "DROP TABLE public.fresh" in html, "the reverse script is missing"
    assert html.count('data-type="') == 3, "one timeline entry per event"
    assert "sse-connect=" in html, "a waiting migration is followed live"
    assert "data-settled" not in html


def test_the_timeline_says_who_asked_for_a_rollback_and_why():
    request = migration_flow(Mode.APPLY)[0]
    payload = request.payload.model_copy(
        update={"rollback_of": uuid.uuid4(), "requested_by": "dba", "comment": "orders broke"}
    )
    (entry,) = views.timeline([(1, request.model_copy(update={"payload": payload}))])
    assert entry.title == "rollback requested"
    assert entry.detail == "s → t, mode apply by dba: “orders broke”"


def test_only_a_token_with_approve_is_offered_approve_and_reject():
    assert 'id="approve-button"' in _render(_planned(), APPROVER)
    assert 'id="reject-button"' in _render(_planned(), APPROVER)
    html = _render(_planned(), READER)
    assert 'id="approve-button"' not in html and 'id="reject-button"' not in html
    assert "/approve" not in html
    assert "has not got it" in html, "the reader is not told why"


def test_roll_back_is_offered_on_an_applied_migration_with_operations_to_undo():
    events = migration_flow(Mode.APPLY, statements=2)
    row = _row(events)
    row["operations"] = [{"kind": "create_table"}]
    context = views.migration_context(row, list(enumerate(events, 1)), APPROVER, "c")
    html = views.render("migration.html", prefix="/ui", nav="", notice=None, **context)
    assert 'id="rollback-button"' in html and 'id="approve-button"' not in html
    assert "sse-connect=" not in html, "an ended migration needs no live stream"
    assert "data-settled" in html
    assert 'data-status="applied"' in html
    reader = views.migration_context(row, list(enumerate(events, 1)), READER, "c")
    assert not reader["offer_rollback"]
    row["operations"] = []
    assert not views.migration_context(row, [], APPROVER, "c")["offer_rollback"]


def test_a_failed_migration_shows_the_failing_statement_and_the_database_message():
    events = migration_flow(Mode.APPLY, statements=3)[:-1]
    script = events[2]
    failure = script.follow(
        MigrationFailed(
            stage=Stage.EXECUTE,
            reason="statement 2 failed",
            statement="CREATE TABLE x1 ()",
            statement_index=1,
            database_error='DuplicateTableError: relation "x1" already exists',
        ),
        producer="executor",
    ).model_copy(update={"occurred_at": T0 + timedelta(minutes=1)})
    html = _render([*events, failure], READER)
    assert "Failed at execute" in html
    assert "relation &#34;x1&#34; already exists" in html
    assert re.search(r'<li class="[^"]*failed[^"]*">.*?CREATE TABLE x1 \(\)', html, re.S)
    assert "rollback-button" not in html


def test_times_are_time_elements_with_the_utc_text_as_fallback():
    tag = str(views.time_tag(T0))
    assert tag == '<time datetime="2026-01-01T00:00:00+00:00">2026-01-01 00:00:00 UTC</time>'


def test_the_timeline_fragment_is_sent_as_one_sse_event_of_many_data_lines():
    message = routes._sse("update", "<li>a</li>\n<li>b</li>")
    assert message == "event: update\ndata: <li>a</li>\ndata: <li>b</li>\n\n"


# --- through the app: sign-in, CSRF and scope, before any database is touched -------------


@pytest.fixture
def client(secret_key) -> TestClient:
    """The gateway app without its lifespan: no broker, no database (nothing here may reach
    them: each request is refused before)."""
    app = create_app(Settings(secret_key=secret_key))
    app.state.engine = app.state.broker = app.state.notifications = None
    return TestClient(app, base_url="http://console.test", follow_redirects=False)


def _signed_in(client: TestClient, who: Principal) -> str:
    """Sign ``who`` in for the app's pages: its session cookie, and the session's CSRF token."""
    console = client.app.state.console  # type: ignore[attr-defined]
    session = console.codec.new(TOKEN)
    viewer = routes.Viewer(who, session)
    client.app.dependency_overrides[routes._viewer] = lambda: viewer  # type: ignore[attr-defined]
    client.cookies.set(COOKIE, console.codec.encode(session))
    return session.csrf


def test_a_page_without_a_session_sends_the_browser_to_sign_in(client: TestClient):
    response = client.get("/ui/migrations")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/sign-in?next=%2Fui%2Fmigrations"
    client.cookies.set(COOKIE, "forged.value.sig")
    response = client.get(f"/ui/migrations/{uuid.uuid4()}")
    assert response.status_code == 303
    assert "reason=expired" in response.headers["location"]
    assert 'schemashift_session=""' in response.headers["set-cookie"], "the cookie stays"


def test_the_sign_in_page_is_served_with_its_static_files(client: TestClient):
    page = client.get("/ui/sign-in?next=https://evil.example/")
    assert page.status_code == 200
    assert 'name="next" value="/ui/migrations"' in page.text, "an outside next was kept"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path in re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', page.text):
        assert client.get(path).status_code == 200, path


def test_a_change_without_the_csrf_token_is_refused_with_the_reason(client: TestClient):
    _signed_in(client, APPROVER)
    response = client.post(f"/ui/migrations/{uuid.uuid4()}/approve", data={"comment": "ok"})
    assert response.status_code == 403
    assert "no CSRF token" in response.text
    response = client.post(
        f"/ui/migrations/{uuid.uuid4()}/approve", data={"comment": "ok", "csrf_token": "wrong"}
    )
    assert response.status_code == 403
    assert "does not match" in response.text


def test_a_post_from_another_origin_is_refused(client: TestClient):
    csrf = _signed_in(client, APPROVER)
    response = client.post(
        f"/ui/migrations/{uuid.uuid4()}/reject",
        data={"csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "another site" in response.text


@pytest.mark.parametrize("action", ["approve", "reject", "rollback"])
def test_a_token_without_approve_gets_403_when_it_posts_anyway(client: TestClient, action):
    csrf = _signed_in(client, READER)
    response = client.post(f"/ui/migrations/{uuid.uuid4()}/{action}", data={"csrf_token": csrf})
    assert response.status_code == 403
    assert "lacks the 'approve' scope" in unescape(response.text)


def test_registering_a_connection_needs_admin(client: TestClient):
    csrf = _signed_in(client, APPROVER)
    response = client.post(
        "/ui/connections",
        data={"csrf_token": csrf, "name": "x", "url": "postgresql://u:pw@h/db"},
    )
    assert response.status_code == 403
    assert "lacks the 'admin' scope" in unescape(response.text)
    assert "pw@" not in response.text


def test_the_app_s_errors_show_as_pages_on_the_console_and_stay_json_elsewhere(client):
    _signed_in(client, READER)
    page = client.get("/ui/migrations/not-a-uuid")
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "The request is not valid" in page.text and "migration_id" in page.text
    api = client.get("/api/v1/migrations/not-a-uuid")
    assert api.headers["content-type"] == "application/json"


def test_a_live_stream_without_a_session_ends_instead_of_redirecting(client: TestClient):
    response = client.get(
        f"/ui/migrations/{uuid.uuid4()}/live", headers={"Accept": "text/event-stream"}
    )
    assert response.status_code == 204


def test_a_comparison_from_the_console_needs_trigger(client: TestClient):
    csrf = _signed_in(client, APPROVER)
    response = client.post("/ui/targets/prod/compare", data={"csrf_token": csrf, "source": "dev"})
    assert response.status_code == 403
    assert "lacks the 'trigger' scope" in unescape(response.text)


def test_a_form_of_too_many_fields_is_refused(client: TestClient):
    csrf = _signed_in(client, APPROVER)
    fields = {f"f{i}": "x" for i in range(200)} | {"csrf_token": csrf}
    response = client.post(f"/ui/migrations/{uuid.uuid4()}/approve", data=fields)
    assert response.status_code == 400
    assert "too many fields" in response.text


def test_a_url_of_several_hosts_shows_them_as_written() -> None:
    from schemashift.gateway.console.render import url_parts

    assert url_parts("postgresql://app:***@db1:5432,db2:5433/shop") == {
        "host": "db1:5432,db2:5433",
        "database": "shop",
    }
    assert url_parts("postgresql://app:***@[::1]:5432/shop")["host"] == "[::1]:5432"
    assert url_parts("sqlite:////srv/app.db") == {"host": None, "database": "/srv/app.db"}
