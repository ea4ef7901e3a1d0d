"""The client commands as users run them, against the running service: compare with its plan
and progress, approval, listings, masked passwords, and the errors of a refused token or an
unreachable gateway."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.infra import REPO_ROOT
from tests.support.schema_snapshot import assert_same_schema
from tests.support.service import (
    ALL_HAZARDS,
    Service,
    create_token,
    free_port,
    registered_pair,
    request_plan,
    wait_for_status,
)

pytestmark = pytest.mark.integration

TARGET = """
CREATE TABLE customers (id integer PRIMARY KEY, email varchar(100) NOT NULL);
CREATE TABLE legacy (id integer);
"""
SOURCE = """
CREATE TABLE customers (id integer PRIMARY KEY, email varchar(255) NOT NULL, note text);
CREATE INDEX customers_email_idx ON customers (email);
"""

FIRST_LINE = re.compile(r"^migration ([0-9a-f-]{36}) \((plan|apply)\)$", re.M)


async def schemashift(
    service: Service, token: str, *args: str, url: str | None = None, home: Path
) -> subprocess.CompletedProcess[str]:
    """`schemashift ARGS` in a subprocess, pointed at the service by the environment alone
    (``home`` has no config file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMASHIFT_API_")}
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "SCHEMASHIFT_API_URL": url or service.base_url,
        "SCHEMASHIFT_API_TOKEN": token,
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "schemashift.gateway.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def migration_id(result: subprocess.CompletedProcess[str]) -> str:
    match = FIRST_LINE.search(result.stdout)
    assert match, result.stdout
    return match[1]


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("schemashift: error: "), result.stderr
    assert fragment in result.stderr, result.stderr


async def test_compare_apply_follow_applies_and_counts_the_statements(
    api, service, new_database, tmp_path
):
    source_url, target_url, source, target = await registered_pair(
        api, new_database, SOURCE, TARGET
    )
    result = await schemashift(
        service,
        service.admin_token,
        "compare",
        source,
        target,
        "--apply",
        "--allow",
        *ALL_HAZARDS,
        "--follow",
        home=tmp_path,
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    migration = await wait_for_status(api, migration_id(result), {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    count = len(migration["statements"])
    assert count > 0
    assert f"applied {count} statement" in result.stdout.splitlines()[-1]
    # Piped, not a terminal: one plain line per statement, no redraws.
    assert "\r" not in result.stdout
    assert f"{count}/{count} statements  " in result.stdout
    assert "-- hazards: data_loss" in result.stdout
    await assert_same_schema(source_url, target_url)


async def test_compare_plan_shows_the_hazard_exits_3_and_approve_applies_it(
    api, service, new_database, tmp_path
):
    source_url, target_url, source, target = await registered_pair(
        api, new_database, SOURCE, TARGET
    )
    planned = await schemashift(
        service, service.admin_token, "compare", source, target, "--plan", home=tmp_path
    )
    assert planned.returncode == 3, (planned.stdout, planned.stderr)
    assert "-- hazards: data_loss" in planned.stdout
    assert re.search(r"^DROP TABLE \S*legacy;", planned.stdout, re.M), planned.stdout
    assert "awaiting approval (mode plan)" in planned.stdout
    mid = migration_id(planned)
    assert f"{service.base_url}/api/v1/migrations/{mid}" in planned.stdout
    assert (await wait_for_status(api, mid, {"awaiting_approval"}))["mode"] == "plan"

    approver = create_token(service, "approve,read", f"dba-{uuid.uuid4().hex[:6]}")
    approved = await schemashift(
        service,
        approver,
        "migrations",
        "approve",
        mid,
        "--comment",
        "reviewed",
        "--follow",
        home=tmp_path,
    )
    assert approved.returncode == 0, (approved.stdout, approved.stderr)
    assert approved.stdout.splitlines()[0] == f"approved {mid}"
    assert approved.stdout.splitlines()[-1].startswith("applied ")
    migration = await wait_for_status(api, mid, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    await assert_same_schema(source_url, target_url)

    shown = await schemashift(service, approver, "migrations", "show", mid, home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^status\s+applied$", shown.stdout, re.M), shown.stdout


async def test_migrations_list_json_holds_the_ids(api, service, new_database, tmp_path):
    _, _, source, target = await registered_pair(api, new_database, SOURCE, TARGET)
    first = (await request_plan(api, source, target))["id"]
    rejected = await schemashift(
        service, service.admin_token, "migrations", "reject", first, home=tmp_path
    )
    assert rejected.returncode == 0, rejected.stderr
    await wait_for_status(api, first, {"rejected"})
    second = (await request_plan(api, source, target))["id"]
    listed = await schemashift(
        service,
        service.admin_token,
        "migrations",
        "list",
        "--target",
        target,
        "--json",
        home=tmp_path,
    )
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert [m["id"] for m in page["items"]] == [second, first]
    table = await schemashift(
        service, service.admin_token, "migrations", "list", "--target", target, home=tmp_path
    )
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["ID", "STATUS", "MODE"]
    assert first in table.stdout and second in table.stdout


async def test_connections_are_shown_without_their_password(service, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    password = f"Cli-Secret-{uuid.uuid4().hex[:6]}"
    url = f"postgresql://app:{password}@127.0.0.1:5432/app"
    added = await schemashift(
        service, service.admin_token, "connections", "add", name, url, home=tmp_path
    )
    assert added.returncode == 0, added.stderr
    assert password not in added.stdout + added.stderr
    assert "postgresql://app:***@127.0.0.1:5432/app" in added.stdout
    listed = await schemashift(service, service.admin_token, "connections", "list", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert password not in listed.stdout
    assert any(line.split()[0] == name for line in listed.stdout.splitlines()[1:])
    as_json = await schemashift(
        service, service.admin_token, "connections", "list", "--json", home=tmp_path
    )
    assert password not in as_json.stdout
    assert any(c["name"] == name for c in json.loads(as_json.stdout))


async def test_a_read_only_token_cannot_approve(api, service, new_database, tmp_path):
    _, _, source, target = await registered_pair(api, new_database, SOURCE, TARGET)
    waiting = await request_plan(api, source, target)
    assert waiting["status"] == "awaiting_approval", waiting["error"]
    reader = create_token(service, "read")
    result = await schemashift(
        service, reader, "migrations", "approve", waiting["id"], home=tmp_path
    )
    assert_one_line_error(result, "lacks the 'approve' scope (403)")
    assert reader not in result.stderr + result.stdout
    still = await api.get(f"/api/v1/migrations/{waiting['id']}")
    assert still.json()["status"] == "awaiting_approval"


async def test_an_unreachable_gateway_is_exit_2(service, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = await schemashift(
        service, service.admin_token, "migrations", "list", url=url, home=tmp_path
    )
    assert_one_line_error(result, f"cannot reach the gateway at {url}")
    assert service.admin_token not in result.stderr
