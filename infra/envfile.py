"""The env file ``infra up`` writes: where the local services are, one ``KEY=VALUE`` a line.

``<state>/env`` (mode 0600, it holds database passwords) is sourced by shells
(``set -a; . .schemashift/env; set +a``), read as a dotenv file by the roles' settings, and
read by the tests. Values are written as they are, unquoted: every value ``up`` writes (URLs
with URL-safe passwords, host:port, paths of the state directory, version lists) is safe
unquoted in a shell.

This module is the one place that parses and writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from schemashift.infra.state import write_private


def parse(text: str) -> dict[str, str]:
    """The ``KEY=VALUE`` pairs of ``text``, in order.

    Blank lines, ``#`` comments and lines without ``=`` are skipped; whitespace around the key
    and the value is dropped. A key given twice keeps its last value.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and key:
            values[key] = value.strip()
    return values


def read(path: Path) -> dict[str, str]:
    """The pairs of the env file at ``path``; empty if it does not exist (``up`` never ran)."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    return parse(text)


def render(values: Mapping[str, str]) -> str:
    """The file's text for ``values``: ``KEY=VALUE`` lines, in the mapping's order."""
    return "".join(f"{key}={value}\n" for key, value in values.items())


def write(path: Path, values: Mapping[str, str]) -> Path:
    """Replace the env file at ``path`` with ``values`` (mode 0600); returns ``path``."""
    write_private(path, render(values))
    return path
