"""MySQL and MariaDB stored functions and procedures as catalog :class:`Function` objects.

Read in bulk from ``information_schema``: ``ROUTINES`` (body, return type, characteristics,
the database's collation at creation) and ``PARAMETERS`` (each parameter's mode, name, type,
character set and collation). The only fact neither has is MariaDB's ``AGGREGATE``: only a
function whose body has ``FETCH GROUP NEXT ROW`` can be one (the server refuses the statement
elsewhere), so ``SHOW CREATE FUNCTION`` is asked for those functions alone.

How a routine maps onto :class:`Function`:

- ``identity_args`` is the routine's type, ``function`` or ``procedure``. MySQL has no
  overloading: a routine is known by its name within its type (a function and a procedure may
  share a name), so the key (schema, name, type) is unique, and a routine whose parameters
  change is the same routine, changed (not a second one).
- ``kind`` is ``function``, ``procedure`` or (MariaDB) ``aggregate``; ``result`` is None: the
  RETURNS clause is part of the definition, and a function is replaced whatever it returns
  (the server keeps no dependencies on routines that would need rebuilding).
- ``definition`` is the runnable ``CREATE FUNCTION|PROCEDURE`` text in one normal form, the
  comparison basis: no DEFINER (who created it is no schema fact) and no database name (the
  body's `` `db`. `` before names is removed), parameter and return types as the server prints
  them with a character set and collation only where they are not the database's default,
  the characteristics that are not the defaults (data access, DETERMINISTIC, SQL SECURITY
  INVOKER, COMMENT) in SHOW CREATE's order, then the body as stored.

Not compared: the ``sql_mode`` and client character set a routine was created under (the
script creates it under the executor's session), and MariaDB's packages (``sql_mode=ORACLE``),
which are not read.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from typing import Any

from schemashift.consumers.common.drivers import IntrospectionError
from schemashift.consumers.common.drivers.mysql import DRIVER, literal
from schemashift.schemas.catalog import Function

q = DRIVER.sql_dialect.identifier_preparer.quote_identifier

ROUTINES = (
    "SELECT * FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s "
    "AND ROUTINE_TYPE IN ('FUNCTION', 'PROCEDURE') ORDER BY ROUTINE_TYPE, ROUTINE_NAME"
)
PARAMETERS = (
    "SELECT * FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = %s "
    "AND ORDINAL_POSITION > 0 ORDER BY SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION"
)

# Only an aggregate function may hold this statement (ER_INVALID_AGGREGATE_FUNCTION otherwise).
_FETCH_GROUP = re.compile(r"\bFETCH\s+GROUP\s+NEXT\s+ROW\b", re.I)
_AGGREGATE = re.compile(r"^CREATE\b.*?\bAGGREGATE\s+FUNCTION\b", re.I | re.S)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def aggregate_candidates(routines: list[dict[str, Any]]) -> list[str]:
    """Names of the functions that may be aggregate ones: those whose SHOW CREATE FUNCTION
    says what ``information_schema`` does not."""
    return [
        _text(r["ROUTINE_NAME"])
        for r in routines
        if r["ROUTINE_TYPE"] == "FUNCTION"
        and _FETCH_GROUP.search(_text(r["ROUTINE_DEFINITION"] or ""))
    ]


def is_aggregate(show_create: str) -> bool:
    """Whether a SHOW CREATE FUNCTION text creates an AGGREGATE function."""
    head = show_create.split("(", 1)[0]
    return _AGGREGATE.match(head) is not None


def build_routines(
    database: str,
    routines: list[dict[str, Any]],
    parameters: list[dict[str, Any]],
    collations: list[dict[str, Any]],
    aggregates: Collection[str] = (),
) -> list[Function]:
    """The routines of ``database`` from the rows of :data:`ROUTINES` and :data:`PARAMETERS`
    (and of ``information_schema.COLLATIONS``); ``aggregates`` names the aggregate functions."""
    charset_of = {r["COLLATION_NAME"]: r["CHARACTER_SET_NAME"] for r in collations}
    by_routine: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in parameters:
        by_routine[(_text(row["SPECIFIC_NAME"]), row["ROUTINE_TYPE"])].append(row)
    found = []
    for row in routines:
        name, routine_type = _text(row["ROUTINE_NAME"]), row["ROUTINE_TYPE"]
        body = row["ROUTINE_DEFINITION"]
        if body is None:
            raise IntrospectionError(
                f"cannot read the body of {routine_type.lower()} {name}: the user must be its "
                "definer or hold the privilege to see routines (MySQL: SHOW_ROUTINE; "
                "MariaDB: SELECT on mysql.proc)"
            )
        collation = row.get("DATABASE_COLLATION")
        default = (charset_of.get(collation), collation)
        params = sorted(
            by_routine[(_text(row["SPECIFIC_NAME"]), routine_type)],
            key=lambda p: int(p["ORDINAL_POSITION"]),
        )
        kind = "procedure" if routine_type == "PROCEDURE" else "function"
        if kind == "function" and name in aggregates:
            kind = "aggregate"
        found.append(
            Function.trusted(
                schema_name=database,
                name=name,
                identity_args=routine_type.lower(),
                kind=kind,
                result=None,
                language="sql",
                definition=_definition(database, row, params, kind, default),
            )
        )
    return found


def _type(row: dict[str, Any], default: tuple[str | None, str | None]) -> str:
    """A parameter's or return type: the server's text, with its character set and collation
    where they are not the database's default."""
    text = _text(row["DTD_IDENTIFIER"])
    charset, collation = row.get("CHARACTER_SET_NAME"), row.get("COLLATION_NAME")
    if charset and (charset, collation) != default:
        text += f" CHARSET {charset}"
        if collation:
            text += f" COLLATE {collation}"
    return text


def _definition(
    database: str,
    row: dict[str, Any],
    params: list[dict[str, Any]],
    kind: str,
    default: tuple[str | None, str | None],
) -> str:
    procedure = kind == "procedure"
    args = []
    for p in params:
        mode = f"{p['PARAMETER_MODE']} " if procedure and p.get("PARAMETER_MODE") else ""
        args.append(f"{mode}{q(_text(p['PARAMETER_NAME']))} {_type(p, default)}")
    head = {"procedure": "PROCEDURE", "function": "FUNCTION", "aggregate": "AGGREGATE FUNCTION"}
    lines = [f"CREATE {head[kind]} {q(_text(row['ROUTINE_NAME']))}({', '.join(args)})"]
    if not procedure:
        lines[0] += f" RETURNS {_type(row, default)}"
    access = row.get("SQL_DATA_ACCESS") or "CONTAINS SQL"
    if access != "CONTAINS SQL":
        lines.append(f"    {access}")
    if row.get("IS_DETERMINISTIC") == "YES":
        lines.append("    DETERMINISTIC")
    if (row.get("SECURITY_TYPE") or "DEFINER") != "DEFINER":
        lines.append(f"    SQL SECURITY {row['SECURITY_TYPE']}")
    if row.get("ROUTINE_COMMENT"):
        lines.append(f"    COMMENT {literal(_text(row['ROUTINE_COMMENT']))}")
    body = _text(row["ROUTINE_DEFINITION"]).replace(f"{q(database)}.", "")
    lines.append(body)
    return "\n".join(lines)
