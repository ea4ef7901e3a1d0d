"""A MySQL script as the ``mysql`` and ``mariadb`` clients run it (``mariadb db < out.sql``).

The client cuts its input at every ``;``: a routine or trigger whose BEGIN ... END body holds
``;`` would be sent in pieces. Such a statement goes between ``DELIMITER`` lines, with a
delimiter its text does not contain; every other statement stays as it is. (The executor sends
each statement whole and needs none of this.) The client also leaves comments out of what it
sends unless run with ``--comments``: a script whose bodies hold comments says so first.
"""

from __future__ import annotations

import re

from schemashift.schemas.operations import Statement

_DELIMITERS = ("$$", "//", ";;", "$$$", "///", "@@")
_COMMENT = re.compile(r"--\s|#|/\*(?!!)")
_KEEP_COMMENTS = "-- bodies below hold comments, which the client sends only with --comments"


def compound(sql: str) -> bool:
    """Whether a statement's text (with its final ``;``) holds another ``;``."""
    return ";" in sql.rstrip().removesuffix(";")


def delimiter_for(sql: str) -> str:
    """A delimiter that ``sql`` does not contain."""
    for delimiter in _DELIMITERS:
        if delimiter not in sql:
            return delimiter
    n = 4
    while "$" * n in sql:
        n += 1
    return "$" * n


def _delimited(statement: Statement) -> str:
    sql = statement.sql.rstrip().removesuffix(";")
    delimiter = delimiter_for(sql)
    notes = statement.annotated().removesuffix(statement.sql)
    return f"{notes}DELIMITER {delimiter}\n{sql}{delimiter}\nDELIMITER ;"


def script_text(statements: list[Statement]) -> str:
    """``statements`` as one script the client runs as it is (see the module)."""
    parts = [_delimited(s) if compound(s.sql) else s.annotated() for s in statements]
    if any(compound(s.sql) and _COMMENT.search(s.sql) for s in statements):
        parts.insert(0, _KEEP_COMMENTS)
    return "\n\n".join(parts)
