"""The docker-compose stack creates the same topics as `infra up`."""

import re

from schemashift.schemas.events import ALL_TOPICS
from tests.support.infra import REPO_ROOT


def test_compose_creates_every_topic():
    compose = (REPO_ROOT / "infra" / "docker-compose.yml").read_text()
    assert set(re.findall(r"\bschemashift\.[a-z.]+[a-z]\b", compose)) >= set(ALL_TOPICS)
