"""The machine-readable output of `schemashift diff --format json`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemashift.schemas.catalog import Catalog
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Operation, Script, Statement


class DiffReport(BaseModel):
    """Operations found, the ordered statements with their hazards, and the reverse script."""

    model_config = ConfigDict(extra="forbid")

    dialect: Dialect
    source_fingerprint: str
    target_fingerprint: str
    operations: list[Operation]
    statements: list[Statement]
    reverse_statements: list[Statement]
    hazards: list[Hazard]

    @classmethod
    def build(
        cls, source: Catalog, target: Catalog, operations: list[Operation], script: Script
    ) -> DiffReport:
        """The report of one comparison."""
        return cls(
            dialect=target.dialect,
            source_fingerprint=source.fingerprint(),
            target_fingerprint=target.fingerprint(),
            operations=operations,
            statements=script.statements,
            reverse_statements=script.reverse_statements,
            hazards=script.hazards,
        )
