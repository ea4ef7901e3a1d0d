"""The comparator's catalog cache keeps the catalogs read last, within its bounds."""

from __future__ import annotations

from schemashift.consumers.comparator.introspect import CatalogCache
from schemashift.schemas.catalog import Catalog, Table


def _catalog(stamp: str | None, tables: int = 0) -> Catalog:
    return Catalog(
        stamp=stamp, tables=[Table(schema_name="public", name=f"t{i}") for i in range(tables)]
    )


def test_least_recently_used_goes_first() -> None:
    cache = CatalogCache(max_entries=2)
    a, b, c = _catalog("a"), _catalog("b"), _catalog("c")
    cache.put("db-a", a)
    cache.put("db-b", b)
    assert cache.get("db-a") is a  # now db-b is the least recently used
    cache.put("db-c", c)
    assert (cache.get("db-a"), cache.get("db-b"), cache.get("db-c")) == (a, None, c)


def test_large_catalogs_push_the_others_out() -> None:
    cache = CatalogCache(max_objects=100)
    small = _catalog("small", tables=10)
    cache.put("small", small)
    cache.put("large", _catalog("large", tables=95))
    assert cache.get("small") is None and cache.get("large") is not None
    # One catalog larger than the bound is still kept: it is all there is.
    cache.put("huge", _catalog("huge", tables=500))
    assert cache.get("huge") is not None and cache.get("large") is None


def test_a_catalog_without_a_stamp_replaces_nothing_it_can_check() -> None:
    cache = CatalogCache()
    cache.put("db", _catalog("one"))
    cache.put("db", _catalog(None))  # read again, from a dialect without a stamp
    assert cache.get("db") is None
