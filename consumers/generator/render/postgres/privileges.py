"""GRANT and REVOKE."""

from __future__ import annotations

from schemashift.schemas.catalog import Privilege
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, RenderContext, q, qn


def _on(privilege: Privilege) -> str:
    target = privilege.target
    match privilege.object_type:
        case "schema":
            return f"SCHEMA {q(target[0])}"
        case "sequence":
            return f"SEQUENCE {qn(target[0], target[1])}"
        case "function":
            return f"ROUTINE {qn(target[0], target[1])}({target[2]})"
    return f"TABLE {qn(target[0], target[1])}"


def render_privilege(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """GRANT (CREATE, or ALTER: granted again) or REVOKE (DROP, or ALTER marked ``revoke``:
    revoked again) one privilege; nothing on an object the script drops."""
    privilege = op.obj_as(Privilege)
    target = privilege.target
    if ctx.gone((privilege.object_type, *target)):
        return
    if privilege.object_type == "column" and ctx.gone(("table", *target[:2])):
        return
    grantee = "PUBLIC" if privilege.grantee == "PUBLIC" else q(privilege.grantee)
    what = f"{privilege.privilege} ON {_on(privilege)}"
    if privilege.object_type == "column":
        what = f"{privilege.privilege} ({q(target[2])}) ON {_on(privilege)}"
    if op.kind is not OpKind.DROP and not op.hints.revoke:  # ALTER: granted again
        option = " WITH GRANT OPTION" if privilege.grantable else ""
        emit(f"GRANT {what} TO {grantee}{option}")
    else:
        emit(f"REVOKE {what} FROM {grantee}")
