"""Row-level security policies."""

from __future__ import annotations

from schemashift.schemas.catalog import Policy
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, RenderContext, q, qn


def _roles(policy: Policy) -> str:
    return ", ".join("PUBLIC" if r == "public" else q(r) for r in policy.roles)


def _expressions(policy: Policy) -> str:
    parts = []
    if policy.using is not None:
        parts.append(f" USING ({policy.using})")
    if policy.with_check is not None:
        parts.append(f" WITH CHECK ({policy.with_check})")
    return "".join(parts)


def render_policy(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE/DROP POLICY, or ALTER POLICY (drop and create when an expression goes away,
    which ALTER POLICY cannot do)."""
    where = f"{q(op.name)} ON {qn(op.schema_name, op.table or '')}"
    policy = op.obj_as(Policy)
    removes = op.kind is OpKind.ALTER and any(
        getattr(op.old_as(Policy), k) is not None and getattr(policy, k) is None
        for k in ("using", "with_check")
    )
    if op.kind is OpKind.DROP or removes:
        emit(f"DROP POLICY {where}")
        if op.kind is OpKind.DROP:
            return
    if op.kind is OpKind.CREATE or removes:
        kind = "PERMISSIVE" if policy.permissive else "RESTRICTIVE"
        emit(
            f"CREATE POLICY {where} AS {kind} FOR {policy.command}"
            f" TO {_roles(policy)}{_expressions(policy)}"
        )
        return
    emit(f"ALTER POLICY {where} TO {_roles(policy)}{_expressions(policy)}")
