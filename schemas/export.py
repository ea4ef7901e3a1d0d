"""Write the JSON Schema of every event payload (and the envelope) to schemas/jsonschema/.

Run `python -m schemashift.schemas.export`; a test fails when the committed files are out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from schemashift.schemas.events import PAYLOAD_MODELS, DeadLetter, Event
from schemashift.schemas.report import DiffReport

OUT = Path(__file__).with_name("jsonschema")


def documents() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, for the envelope, each payload, dead letters and diff reports."""
    docs = {"event.json": Event.model_json_schema()}
    for event_type, model in PAYLOAD_MODELS.items():
        docs[f"{event_type.value}.json"] = model.model_json_schema()
    docs["deadletter.json"] = DeadLetter.model_json_schema()
    docs["diff-report.json"] = DiffReport.model_json_schema()
    return docs


def render(doc: dict[str, Any]) -> str:
    """The stable text of one schema file."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, doc in documents().items():
        (OUT / name).write_text(render(doc))
    print(f"wrote {len(documents())} schemas to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
