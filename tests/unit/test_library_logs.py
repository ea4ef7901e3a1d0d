"""FastStream's lines go through our logger, at the library level, without its known notice."""

from __future__ import annotations

import logging

import pytest

from schemashift.consumers.common.kafka import LIBRARY_LOGGER
from schemashift.gateway.cli import _configure_logging


@pytest.fixture
def library_level():
    before = LIBRARY_LOGGER.level
    yield
    LIBRARY_LOGGER.setLevel(before)


def test_the_no_topic_creation_notice_is_dropped_and_other_warnings_kept(caplog, library_level):
    LIBRARY_LOGGER.setLevel(logging.WARNING)
    with caplog.at_level(logging.WARNING, logger=LIBRARY_LOGGER.name):
        LIBRARY_LOGGER.warning("Auto create topics is disabled. Make sure the topics exist.")
        LIBRARY_LOGGER.warning("Consumer in group g has no partition assignments")
    assert [r.getMessage() for r in caplog.records] == [
        "Consumer in group g has no partition assignments"
    ]


def test_library_lines_show_at_the_library_level_only(caplog, library_level):
    _configure_logging("tracker", "INFO", "WARNING")
    with caplog.at_level(logging.DEBUG):
        LIBRARY_LOGGER.info("FastStream app started successfully!")
        logging.getLogger("schemashift.role").info("the role's own line")
    assert [r.getMessage() for r in caplog.records] == ["the role's own line"]
    _configure_logging("tracker", "INFO", "INFO")
    assert LIBRARY_LOGGER.isEnabledFor(logging.INFO)
