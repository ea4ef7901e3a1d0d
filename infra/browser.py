"""Debian's Chromium and its chromedriver, which the console's browser tests drive headless:
found where the packages put them, or installed with apt-get (`schemashift infra browser`,
which `make test` runs).

A browser cannot be downloaded here (no driver manager, no Playwright download): the Debian
packages are the only source, so they are what the tests use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from schemashift.infra.console import progress

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")


class BrowserError(RuntimeError):
    """Chromium or its driver is missing and could not be installed."""


def missing() -> list[Path]:
    """Those of Chromium and chromedriver that are not installed."""
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def ensure() -> None:
    """Install Chromium and chromedriver with apt-get unless both are there already."""
    if not missing():
        return
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    if os.geteuid() != 0:
        raise BrowserError(
            f"{' and '.join(map(str, missing()))} missing: run `{' '.join(install)}`"
        )
    if not shutil.which("apt-get"):
        raise BrowserError("Chromium is not installed and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def run(cmd: list[str]) -> int:
        progress("running: " + " ".join(cmd))
        return subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr,
            stderr=sys.stderr,
            env=env,
            check=False,
        ).returncode

    if run(install) != 0:
        # Most often a stale package list: refresh it and try once more.
        for cmd in (["apt-get", "update"], install):
            if (rc := run(cmd)) != 0:
                raise BrowserError(f"`{' '.join(cmd)}` failed with exit code {rc}")
    if still := missing():
        raise BrowserError(f"apt-get installed {' '.join(PACKAGES)} but {still[0]} is missing")
