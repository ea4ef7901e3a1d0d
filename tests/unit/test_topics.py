"""The topic table (schemas/topics.py) says what the roles really do, and the AsyncAPI document
says what the table says.

The roles' apps are imported here (building their brokers, never connecting them) to read the
subscribers and publishers they declare; the gateway's publications are read from its source.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from schemashift.gateway.api.asyncapi import specification
from schemashift.schemas.events import ALL_TOPICS, REPLAY_TOPIC, EventType
from schemashift.schemas.topics import (
    CONSUMER_ROLES,
    TOPICS,
    TOPICS_BY_NAME,
    RoleName,
    published_by,
    subscribed_by,
)

GATEWAY = Path(importlib.import_module("schemashift.gateway").__path__[0])


def _role(name: str):
    return importlib.import_module(f"schemashift.consumers.{name}.app").role


def test_the_table_lists_every_topic_once_in_order():
    assert tuple(t.name for t in TOPICS) == ALL_TOPICS


def test_every_topic_has_a_publisher_and_each_pipeline_topic_its_payload():
    for topic in TOPICS:
        assert topic.publishers, f"{topic.name} has no publisher"
    for event_type in EventType:
        topic = TOPICS_BY_NAME[event_type.topic]
        assert topic.payload is not None
        assert topic.payload.model_fields["type"].default is event_type


@pytest.mark.parametrize("name", [r.value for r in CONSUMER_ROLES])
def test_a_role_subscribes_to_what_the_table_says(name):
    role = _role(name)
    assert role.name == name
    subscribed = [t for sub in role.broker.subscribers for t in sub.specification.topics]
    assert len(subscribed) == len(set(subscribed)), f"{name} subscribes twice to a topic"
    assert set(subscribed) == set(subscribed_by(name))
    for sub in role.broker.subscribers:
        assert sub.group_id == f"schemashift-{name}"


@pytest.mark.parametrize("name", [r.value for r in CONSUMER_ROLES])
def test_a_role_declares_what_the_table_says_it_publishes(name):
    published = [p.specification.topic for p in _role(name).broker.publishers]
    assert len(published) == len(set(published)), f"{name} declares a publisher twice"
    assert set(published) == set(published_by(name))


def _gateway_event_types() -> set[str]:
    """The topics of the events the gateway builds (``Event(type=..., producer="gateway")``)."""
    topics = set()
    for path in GATEWAY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Event"):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            producer = keywords.get("producer")
            assert isinstance(producer, ast.Constant), f"{path}: an Event of no literal producer"
            assert producer.value == "gateway", f"{path}: an Event produced by {producer.value}"
            kind = keywords["type"]
            assert isinstance(kind, ast.Attribute), f"{path}: an Event of a computed type"
            topics.add(EventType[kind.attr].topic)
    return topics


def test_the_gateway_publishes_what_the_table_says():
    # The gateway publishes the events it builds, and replays (copies) onto the replay topic.
    assert _gateway_event_types() | {REPLAY_TOPIC} == set(published_by(RoleName.GATEWAY))
    assert not subscribed_by(RoleName.GATEWAY)


def test_the_asyncapi_document_is_the_table():
    document = specification().to_jsonable()
    expected = {
        f"{t.name}:{verb}:{role}": (t.name, action, t.message.__name__)
        for t in TOPICS
        for verb, action, roles in (
            ("Publish", "send", t.publishers),
            ("Subscribe", "receive", t.subscribers),
        )
        for role in roles
    }
    found = {}
    for name, operation in document["operations"].items():
        channel = document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]
        (message,) = channel["messages"].values()
        payload = document["components"]["messages"][message["$ref"].rsplit("/", 1)[1]]["payload"]
        found[name] = (channel["address"], operation["action"], payload["$ref"].rsplit("/", 1)[1])
    assert found == expected
    assert {"Event", "DeadLetter", "ComparisonRequested"} <= set(document["components"]["schemas"])


def test_the_document_is_built_without_importing_a_role():
    code = (
        "import sys\n"
        "from schemashift.gateway.api.asyncapi import specification\n"
        "specification().to_jsonable()\n"
        "print(sorted(m for m in sys.modules if m.startswith('schemashift.consumers.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    imported = ast.literal_eval(result.stdout.strip())
    roles = [m for m in imported if m.split(".")[2] in {r.value for r in CONSUMER_ROLES}]
    assert not roles, f"building the document imported {roles}"
