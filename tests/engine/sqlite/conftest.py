"""Fixtures of the engine's tests on SQLite: database files in the test's own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.sqlite_engine import Files


@pytest.fixture
def files(tmp_path: Path) -> Files:
    """``url = files.new(sql)``: a new database file holding ``sql``."""
    return Files(tmp_path)
