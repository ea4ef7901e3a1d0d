"""The web console in a real browser (Debian's Chromium, headless, through its chromedriver)
against the running service: sign in, see a plan wait with its hazards, approve it with a
comment, watch the timeline reach "applied" without reloading, roll it back; a token without
``approve`` sees no Approve button and is refused if it posts anyway; a revoked token's session
ends at the next request.

Screenshots of every page are written under .schemashift/screenshots/.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemashift.infra import browser as debian_browser
from tests.support.infra import REPO_ROOT
from tests.support.service import Service, create_token, registered_pair, request_plan

pytestmark = pytest.mark.integration

SCREENSHOTS = REPO_ROOT / ".schemashift" / "screenshots"
TARGET = """
CREATE TABLE customers (id integer PRIMARY KEY, email varchar(100) NOT NULL);
CREATE TABLE legacy (id integer);
"""
SOURCE = """
CREATE TABLE customers (id integer PRIMARY KEY, email varchar(255) NOT NULL, note text);
CREATE INDEX customers_email_idx ON customers (email);
"""
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
]
LIVE_TIMEOUT_S = 120
OUTCOMES = {"applied", "failed", "rejected"}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Chromium with a fresh profile; fails (never skips) when it is not installed."""
    if missing := debian_browser.missing():
        pytest.fail(
            f"{', '.join(map(str, missing))} not installed: the console's browser tests need "
            "Debian's chromium and chromium-driver (`schemashift infra browser` installs them; "
            "`make test` runs it)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(debian_browser.CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(
        service=DriverService(str(debian_browser.CHROMEDRIVER)), options=options
    )
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str, width: int = 1280) -> None:
    """The whole page at ``width`` px, as .schemashift/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(int(height) + 40, 900), 6000))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.set_window_size(1280, 900)


def sign_in(driver: Any, service: Service, token: str, *, shot: str | None = None) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{service.base_url}/ui/migrations")
    assert "/ui/sign-in" in driver.current_url, "a page was shown without a session"
    if shot:
        screenshot(driver, shot)
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    assert wait_for_url(driver, "/ui/migrations").endswith("/ui/migrations")


def status_of(driver: Any) -> str | None:
    return driver.execute_script(
        "const b = document.querySelector('#live [data-status]');"
        "return b ? b.getAttribute('data-status') : null;"
    )


def settled(driver: Any) -> bool:
    """Whether the live panel is the last one: the migration ended with every event shown."""
    return bool(driver.execute_script("return !!document.querySelector('#live [data-settled]')"))


def wait_for_status(driver: Any, statuses: set[str]) -> str:
    """Wait, without reloading, until the live panel shows one of ``statuses`` (an outcome
    once the panel has settled: no update follows that could replace its buttons)."""
    from selenium.webdriver.support.ui import WebDriverWait

    def reached(d: Any) -> bool:
        status = status_of(d)
        return status in statuses and (status not in OUTCOMES or settled(d))

    WebDriverWait(driver, LIVE_TIMEOUT_S, poll_frequency=0.2).until(
        reached, message=f"the page did not reach {statuses}"
    )
    return status_of(driver) or ""


def wait_for_url(driver: Any, fragment: str) -> str:
    """The URL once the navigation that a submitted form started has reached ``fragment``."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: (
            fragment in d.current_url
            and d.execute_script("return document.readyState") == "complete"
        ),
        message=f"the browser did not get to a URL with {fragment!r}",
    )
    return driver.current_url


def mark_page(driver: Any) -> None:
    """Mark the loaded page: a reload or navigation loses the mark (:func:`same_page`)."""
    driver.execute_script("window.__schemashiftMark = 'unchanged'")


def same_page(driver: Any) -> bool:
    return driver.execute_script("return window.__schemashiftMark") == "unchanged"


def post_from_page(driver: Any, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """POST a form from the page's own session (its cookie), as a crafted request would."""
    return tuple(
        driver.execute_async_script(
            "const [path, fields, done] = arguments;"
            "fetch(path, {method: 'POST', body: new URLSearchParams(fields),"
            " credentials: 'same-origin', redirect: 'manual'})"
            ".then(r => r.text().then(t => done([r.status, t])))"
            ".catch(e => done([0, String(e)]));",
            path,
            fields,
        )
    )


def page_csrf(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "input[name=csrf_token]").get_attribute("value")


async def test_review_approve_follow_live_and_roll_back(api, service, new_database, browser):
    from selenium.webdriver.common.by import By

    _, _, source, target = await registered_pair(api, new_database, SOURCE, TARGET)
    name = f"dba-{uuid.uuid4().hex[:6]}"
    sign_in(browser, service, create_token(service, "read,approve", name), shot="sign-in")
    cookie = browser.get_cookie("schemashift_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    assert browser.execute_script("return document.cookie") == "", "the cookie is readable"
    assert browser.execute_script("return window.localStorage.length") == 0

    planned = await request_plan(api, source, target)
    assert planned["status"] == "awaiting_approval", planned["error"]
    migration_id = planned["id"]

    browser.get(f"{service.base_url}/ui/migrations")
    assert migration_id.split("-")[0] in browser.page_source
    screenshot(browser, "migrations")

    browser.get(f"{service.base_url}/ui/migrations/{migration_id}")
    assert status_of(browser) == "awaiting_approval"
    drop = browser.find_element(
        By.XPATH, "//ol[@class='sql']/li[.//code[starts-with(normalize-space(), 'DROP TABLE')]]"
    )
    assert "hazardous" in drop.get_attribute("class")
    assert "data loss" in drop.text
    screenshot(browser, "migration-awaiting")
    screenshot(browser, "migration-awaiting-phone", width=390)

    browser.find_element(By.ID, "approve-comment").send_keys("reviewed in the console")
    browser.find_element(By.ID, "approve-button").click()
    wait_for_url(browser, "done=approved")
    mark_page(browser)
    assert wait_for_status(browser, {"applied", "failed"}) == "applied", browser.page_source
    assert same_page(browser), "the page was reloaded to show the outcome"
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline li[data-type='migration.applied']")
    screenshot(browser, "migration-applied")

    events = (await api.get(f"/api/v1/migrations/{migration_id}/events")).json()
    approval = next(e for e in events if e["type"] == "migration.approved")
    assert approval["payload"] == {
        "type": "migration.approved",
        "approved_by": name,
        "comment": "reviewed in the console",
    }

    # The Roll back button came with the live update: the page still is the one loaded.
    for box in browser.find_elements(By.CSS_SELECTOR, "input[name=allow]"):
        box.click()
    browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=apply]").click()
    browser.find_element(By.ID, "rollback-button").click()
    rollback_url = wait_for_url(browser, "done=rollback")
    rollback_id = rollback_url.split("/ui/migrations/")[1].split("?")[0]
    assert rollback_id != migration_id
    if wait_for_status(browser, {"applied", "failed", "awaiting_approval"}) == "awaiting_approval":
        browser.find_element(By.ID, "approve-button").click()
        wait_for_url(browser, "done=approved")
    assert wait_for_status(browser, {"applied", "failed"}) == "applied", browser.page_source
    screenshot(browser, "migration-rolled-back")
    rolled_back = (await api.get(f"/api/v1/migrations/{rollback_id}")).json()
    assert rolled_back["rollback_of"] == migration_id
    assert rolled_back["status"] == "applied"

    browser.get(f"{service.base_url}/ui/connections")
    row = browser.find_element(By.XPATH, f"//tr[td/a[normalize-space()='{target}']]")
    assert "postgresql" in row.text and rollback_id.split("-")[0] in row.text, row.text
    screenshot(browser, "connections")

    browser.get(f"{service.base_url}/ui/targets/{target}")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: "public.customers" in d.page_source)
    assert "public.legacy" in browser.page_source, "the rollback did not bring legacy back"
    screenshot(browser, "target")


async def test_a_token_without_approve_triggers_a_plan_sees_no_button_and_is_refused(
    api, service, new_database, browser
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _, _, source, target = await registered_pair(api, new_database, SOURCE, TARGET)
    name = f"viewer-{uuid.uuid4().hex[:6]}"
    sign_in(browser, service, create_token(service, "read,trigger", name))

    # Trigger the plan from the target's page.
    browser.get(f"{service.base_url}/ui/targets/{target}")
    browser.find_element(By.CSS_SELECTOR, "details.compare summary").click()
    Select(browser.find_element(By.ID, "compare-source")).select_by_value(source)
    browser.find_element(By.ID, "compare-button").click()
    url = wait_for_url(browser, "done=requested")
    migration_id = url.split("/ui/migrations/")[1].split("?")[0]
    assert wait_for_status(browser, {"awaiting_approval", "failed"}) == "awaiting_approval"
    migration = (await api.get(f"/api/v1/migrations/{migration_id}")).json()
    assert (migration["source"], migration["target"]) == (source, target)
    events = (await api.get(f"/api/v1/migrations/{migration_id}/events")).json()
    assert events[0]["payload"]["requested_by"] == name

    browser.get(f"{service.base_url}/ui/migrations/{migration_id}")
    assert status_of(browser) == "awaiting_approval"
    assert not browser.find_elements(By.ID, "approve-button")
    assert not browser.find_elements(By.ID, "reject-button")
    assert "has not got it" in browser.page_source
    screenshot(browser, "migration-without-approve")

    path = f"/ui/migrations/{migration_id}/approve"
    status, body = post_from_page(browser, path, {"csrf_token": page_csrf(browser)})
    assert status == 403, body
    assert "lacks the &#39;approve&#39; scope" in body or "lacks the 'approve' scope" in body
    status, body = post_from_page(browser, path, {"comment": "no token"})
    assert status == 403 and "CSRF" in body, body
    assert (await api.get(f"/api/v1/migrations/{migration_id}")).json()["status"] == (
        "awaiting_approval"
    )

    # Revoked, the token's session ends at the next request.
    revoked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "schemashift.gateway.cli", "token", "revoke", "--name", name],
        cwd=REPO_ROOT,
        env=service.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert revoked.returncode == 0, revoked.stderr
    browser.get(f"{service.base_url}/ui/migrations/{migration_id}")
    assert "/ui/sign-in" in browser.current_url and "reason=revoked" in browser.current_url
    assert "no longer valid" in browser.page_source

    response = await api.post(f"/api/v1/migrations/{migration_id}/reject", json={})
    assert response.status_code == 202, response.text
