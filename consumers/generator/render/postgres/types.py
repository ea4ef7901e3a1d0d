"""User-defined types: enums, domains and composite types."""

from __future__ import annotations

from schemashift.schemas.catalog import (
    Attribute,
    CompositeType,
    Domain,
    DomainConstraint,
    EnumType,
    RangeType,
    labels_only_added,
)
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import NO_HINTS, Operation, OpKind, TypeUser

from .common import Emit, H, RenderContext, literal, q, qn


def render_enum(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.CREATE:
        labels = ", ".join(literal(v) for v in op.obj_as(EnumType).labels)
        emit(f"CREATE TYPE {name} AS ENUM ({labels})")
    elif op.kind is OpKind.DROP:
        emit(f"DROP TYPE {name}", H.DATA_LOSS)
    else:
        old, new = op.old_as(EnumType).labels, op.new_as(EnumType).labels
        if not labels_only_added(old, new):
            _swap_enum(op, emit)
            return
        present = set(old)
        for i, label in enumerate(new):
            if label in present:
                continue
            # Anchor on the next existing label, else after the previous one.
            after_ = next((x for x in new[i + 1 :] if x in present), None)
            where = f" BEFORE {literal(after_)}" if after_ else f" AFTER {literal(new[i - 1])}"
            # Inside a transaction block the new value cannot be used until commit, so the
            # executor must run (and commit) it on its own.
            emit(
                f"ALTER TYPE {name} ADD VALUE {literal(label)}{where if i or after_ else ''}",
                H.NOT_TRANSACTIONAL,
                transactional=False,
            )
            present.add(label)


def _swap_enum(op: Operation, emit: Emit) -> None:
    """Remove or reorder enum values: rename the old type, create the new one, rebuild the
    domains over it (their columns go through text meanwhile), convert the columns that use
    it (through text) and drop the old type. Defaults are dropped before a column is
    converted and set again as the desired state has them (an old one may use a removed
    value)."""
    name = qn(op.schema_name, op.name)
    old_name = op.name + "__old"
    old_hints, new_hints = op.old_hints or NO_HINTS, op.new_hints or NO_HINTS
    labels = ", ".join(literal(v) for v in op.new_as(EnumType).labels)
    emit(f"ALTER TYPE {name} RENAME TO {q(old_name)}")
    emit(f"CREATE TYPE {name} AS ENUM ({labels})")
    wanted = {d.domain.key: d for d in new_hints.domains}
    for old in old_hints.domains:
        new = wanted[old.domain.key]
        domain = qn(*old.domain.key)
        _convert(old.used_by, "text", emit, drop_defaults=True)
        # A domain that stays as it is is rebuilt only because its base type is swapped.
        rebuild = [H.DEPENDENT_REBUILD] if old.domain == new.domain else []
        emit(f"DROP DOMAIN {domain}", *rebuild)
        _create_domain(new.domain, emit, *rebuild)
        if new.comment is not None:
            emit(f"COMMENT ON DOMAIN {domain} IS {literal(new.comment)}")
        _convert(old.used_by, domain, emit, defaults=new.used_by)
    _convert(old_hints.used_by, name, emit, drop_defaults=True, defaults=new_hints.used_by)
    # Dropping the old type removes the values the new one lacks; the reverse adds them back
    # as new values (a reorder alone is undone exactly).
    removed = set(op.old_as(EnumType).labels) - set(op.new_as(EnumType).labels)
    emit(f"DROP TYPE {qn(op.schema_name, old_name)}", *([H.IRREVERSIBLE] if removed else []))


def _convert(
    columns: list[TypeUser],
    to: str,
    emit: Emit,
    *,
    drop_defaults: bool = False,
    defaults: list[TypeUser] | None = None,
) -> None:
    """ALTER COLUMN ... TYPE ``to`` (or an array of it) USING a cast through text; first
    dropping the columns' defaults, then setting those of ``defaults`` (desired columns)."""
    wanted = {(u.schema_name, u.table, u.column): u.default for u in defaults or []}
    for use in columns:
        column = q(use.column)
        alter = f"ALTER TABLE {qn(use.schema_name, use.table)} ALTER COLUMN {column}"
        array = "[]" if use.type.endswith("[]") else ""
        if drop_defaults and use.default is not None:
            emit(f"{alter} DROP DEFAULT")
        cast = f"{column}::text{array}" + ("" if to == "text" else f"::{to}{array}")
        emit(
            f"{alter} TYPE {to}{array} USING {cast}",
            H.TABLE_REWRITE,
            H.NEEDS_VALIDATION,
            H.DATA_LOSS,
        )
        default = wanted.get((use.schema_name, use.table, use.column))
        if default is not None:
            emit(f"{alter} SET DEFAULT {default}")


def _domain_constraints(domain: Domain) -> dict[str, DomainConstraint]:
    return {c.name: c for c in domain.constraints}


def _create_domain(domain: Domain, emit: Emit, *hazards: Hazard) -> None:
    """CREATE DOMAIN, then the constraints it has NOT VALID (CREATE DOMAIN cannot say so),
    each statement with ``hazards``."""
    name = qn(domain.schema_name, domain.name)
    checks = _domain_constraints(domain)
    parts = [f"CREATE DOMAIN {name} AS {domain.base_type}"]
    if domain.collation:
        parts.append(f"COLLATE {domain.collation}")
    if domain.default is not None:
        parts.append(f"DEFAULT {domain.default}")
    if domain.not_null:
        parts.append("NOT NULL")
    parts += [f"CONSTRAINT {q(n)} {c.definition}" for n, c in checks.items() if c.valid]
    emit(" ".join(parts), *hazards)
    for n, c in checks.items():
        if not c.valid:
            emit(f"ALTER DOMAIN {name} ADD CONSTRAINT {q(n)} {c.definition} NOT VALID", *hazards)


def render_domain(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE/DROP DOMAIN, or ALTER DOMAIN for its default, NOT NULL and constraints
    (including VALIDATE CONSTRAINT; NOT VALID ones are added as such)."""
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.DROP:
        emit(f"DROP DOMAIN {name}")
        return
    new = op.obj_as(Domain)
    alter = f"ALTER DOMAIN {name}"
    new_checks = _domain_constraints(new)
    if op.kind is OpKind.CREATE:
        _create_domain(new, emit)
        return
    old = op.old_as(Domain)
    if old.default != new.default:
        if new.default is None:
            emit(f"{alter} DROP DEFAULT")
        else:
            emit(f"{alter} SET DEFAULT {new.default}")
    old_checks = _domain_constraints(old)

    def validated_only(check: str) -> bool:
        was, now = old_checks.get(check), new_checks.get(check)
        return (
            was is not None
            and now is not None
            and was.definition == now.definition
            and not was.valid
            and now.valid
        )

    for check, spec in old_checks.items():
        if new_checks.get(check) != spec and not validated_only(check):
            emit(f"{alter} DROP CONSTRAINT {q(check)}")
    if old.not_null != new.not_null:
        if new.not_null:
            emit(f"{alter} SET NOT NULL", H.NEEDS_VALIDATION)
        else:
            emit(f"{alter} DROP NOT NULL")
    for check, spec in new_checks.items():
        if old_checks.get(check) == spec:
            continue
        if validated_only(check):
            emit(f"{alter} VALIDATE CONSTRAINT {q(check)}", H.NEEDS_VALIDATION)
        elif spec.valid:
            emit(f"{alter} ADD CONSTRAINT {q(check)} {spec.definition}", H.NEEDS_VALIDATION)
        else:
            emit(f"{alter} ADD CONSTRAINT {q(check)} {spec.definition} NOT VALID")


def _attribute(attr: Attribute) -> str:
    collate = f" COLLATE {attr.collation}" if attr.collation else ""
    return f"{q(attr.name)} {attr.type}{collate}"


def render_range_type(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE/DROP TYPE ... AS RANGE (with the options that are not the defaults)."""
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.DROP:
        emit(f"DROP TYPE {name}", H.DATA_LOSS)
        return
    new = op.obj_as(RangeType)
    options = [f"SUBTYPE = {new.subtype}"]
    for option, value in (
        ("SUBTYPE_OPCLASS", new.subtype_opclass),
        ("COLLATION", new.collation),
        ("CANONICAL", new.canonical),
        ("SUBTYPE_DIFF", new.subtype_diff),
    ):
        if value:
            options.append(f"{option} = {value}")
    if new.multirange:
        options.append(f"MULTIRANGE_TYPE_NAME = {qn(op.schema_name, new.multirange)}")
    emit(f"CREATE TYPE {name} AS RANGE ({', '.join(options)})")


def render_composite_type(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE/DROP TYPE ... AS (...), or ALTER TYPE ADD/DROP/ALTER ATTRIBUTE."""
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.DROP:
        emit(f"DROP TYPE {name}", H.DATA_LOSS)
        return
    if op.kind is OpKind.CREATE:
        attrs = ", ".join(_attribute(a) for a in op.obj_as(CompositeType).attributes)
        emit(f"CREATE TYPE {name} AS ({attrs})")
        return
    old = {a.name: a for a in op.old_as(CompositeType).attributes}
    new = {a.name: a for a in op.new_as(CompositeType).attributes}
    alter = f"ALTER TYPE {name}"
    for attr in old:
        if attr not in new:
            emit(f"{alter} DROP ATTRIBUTE {q(attr)}", H.DATA_LOSS)
    for attr, spec in new.items():
        if attr not in old:
            emit(f"{alter} ADD ATTRIBUTE {_attribute(spec)}")
        elif old[attr] != spec:
            collate = f" COLLATE {spec.collation}" if spec.collation else ""
            emit(
                f"{alter} ALTER ATTRIBUTE {q(attr)} TYPE {spec.type}{collate}",
                H.DATA_LOSS,
            )
