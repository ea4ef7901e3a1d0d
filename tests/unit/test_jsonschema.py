"""The published JSON Schemas (schemas/jsonschema/) match the models."""

from schemashift.schemas.export import OUT, documents, render


def test_committed_schemas_are_current():
    for name, doc in documents().items():
        path = OUT / name
        assert path.exists(), f"{path} is missing: run `python -m schemashift.schemas.export`"
        assert path.read_text() == render(doc), (
            f"{path} is stale: run `python -m schemashift.schemas.export`"
        )


def test_envelope_schema_names_the_key_and_id():
    envelope = documents()["event.json"]
    assert {"event_id", "migration_id", "target", "type", "payload"} <= set(envelope["properties"])
