"""A target's current schema as the console lists it: its objects by kind, read with the
comparator's introspection library (as `schemashift diff` reads it).

This is the one place outside the comparator and the executor that decrypts a connection's
URL: the page shows the schema as it is now, which only a live read gives (a request and reply
over Kafka to the comparator would hold the page for a broker round trip and a new topic). It
reads in a read-only transaction, and the URL stays in this process: the listing and its
errors never hold it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common import connections as registry
from schemashift.consumers.comparator.introspect import IntrospectionError, introspect
from schemashift.schemas.catalog import Catalog

# A target that does not answer must not hold the page for long.
READ_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SchemaObject:
    name: str
    detail: str = ""
    items: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SchemaListing:
    """The objects by kind (kinds with none left out), or why they could not be read."""

    sections: list[tuple[str, list[SchemaObject]]] = field(default_factory=list)
    server_version: str | None = None
    error: str | None = None

    @property
    def total(self) -> int:
        return sum(len(objects) for _, objects in self.sections)


def _qualified(schema: str, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def listing(catalog: Catalog) -> SchemaListing:
    """The catalog's objects by kind, each kind sorted by name."""
    tables = [
        SchemaObject(
            _qualified(t.schema_name, t.name),
            f"{len(t.columns)} column(s), {len(t.indexes)} index(es)",
            [f"{c.name} {c.type}{' not null' if c.not_null else ''}" for c in t.columns],
        )
        for t in catalog.tables
    ]
    views = [
        SchemaObject(
            _qualified(v.schema_name, v.name), "materialized view" if v.materialized else "view"
        )
        for v in catalog.views
    ]
    sequences = [
        SchemaObject(_qualified(s.schema_name, s.name), s.data_type) for s in catalog.sequences
    ]
    functions = [
        SchemaObject(f"{_qualified(f.schema_name, f.name)}({f.identity_args})", f.kind)
        for f in catalog.functions
    ]
    types = [
        *(
            SchemaObject(_qualified(e.schema_name, e.name), "enum: " + ", ".join(e.labels))
            for e in catalog.enums
        ),
        *(
            SchemaObject(_qualified(d.schema_name, d.name), f"domain over {d.base_type}")
            for d in catalog.domains
        ),
        *(
            SchemaObject(_qualified(c.schema_name, c.name), "composite type")
            for c in catalog.composite_types
        ),
    ]
    triggers = [
        SchemaObject(_qualified(t.schema_name, t.name), f"on {t.table}") for t in catalog.triggers
    ]
    events = [
        SchemaObject(_qualified(e.schema_name, e.name), e.schedule)
        for e in catalog.scheduled_events
    ]
    sections = [
        ("Tables", tables),
        ("Views", views),
        ("Sequences", sequences),
        ("Functions", functions),
        ("Types", types),
        ("Triggers", triggers),
        ("Scheduled events", events),
    ]
    return SchemaListing(
        sections=[(kind, sorted(objs, key=lambda o: o.name)) for kind, objs in sections if objs],
        server_version=catalog.server_version,
    )


async def read_listing(engine: AsyncEngine, name: str) -> SchemaListing:
    """The current schema of the registered connection ``name``; the reason in words when it
    cannot be read (the messages never hold the URL's password)."""
    try:
        url = await registry.resolve(engine, name)
    except registry.UnknownConnection as exc:
        return SchemaListing(error=str(exc))
    except ValueError as exc:  # the stored URL does not decrypt with this server's key
        return SchemaListing(error=str(exc))
    try:
        catalog = await asyncio.wait_for(introspect(url, connect_timeout=10), READ_TIMEOUT_S)
    except IntrospectionError as exc:
        return SchemaListing(error=exc.reason)
    except TimeoutError:
        return SchemaListing(error=f"the database did not answer within {READ_TIMEOUT_S:.0f} s")
    return listing(catalog)
