"""The database dialects Schemashift knows: the names that catalogs and events carry.

A dialect's code lives in modules named after it, one per stage (driver, introspection,
rendering, execution), each registered under its :class:`Dialect` member; the shared logic
looks a dialect's modules up by that member and knows nothing else about it.
"""

from __future__ import annotations

from enum import StrEnum


class Dialect(StrEnum):
    """A family of databases; the value is what catalogs and events say (``"postgresql"``)."""

    POSTGRESQL = "postgresql"
    SQLITE = "sqlite"
    # MySQL and MariaDB: the flavour and version are the server's (Catalog.server_version).
    MYSQL = "mysql"
