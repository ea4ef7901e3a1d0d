"""Sequences and the sequence options identity columns share."""

from __future__ import annotations

from schemashift.schemas.catalog import Identity, Sequence
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, H, RenderContext, literal, q, qn

_TYPE_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}

# A stand-alone sequence or an identity column's: both have the same options.
Options = Sequence | Identity


def _default_bounds(seq: Options, data_type: str) -> tuple[int, int]:
    type_max = _TYPE_MAX.get(data_type, _TYPE_MAX["bigint"])
    return (1, type_max) if seq.increment > 0 else (-type_max - 1, -1)


def bounds(seq: Options, data_type: str) -> tuple[int, int]:
    """The sequence's MINVALUE and MAXVALUE, defaults (``None``) resolved."""
    default_min, default_max = _default_bounds(seq, data_type)
    min_value = default_min if seq.min_value is None else seq.min_value
    max_value = default_max if seq.max_value is None else seq.max_value
    return min_value, max_value


def sequence_options(seq: Options, data_type: str, *, explicit: bool = False) -> list[str]:
    """Sequence options that differ from PostgreSQL's defaults (all known ones if ``explicit``).

    ``None`` bounds mean "the default for the type and direction".
    """
    ascending = seq.increment > 0
    default_min, default_max = _default_bounds(seq, data_type)
    min_value, max_value = bounds(seq, data_type)
    default_start = min_value if ascending else max_value
    parts = []
    if explicit or seq.increment != 1:
        parts.append(f"INCREMENT BY {seq.increment}")
    if explicit or min_value != default_min:
        parts.append(f"MINVALUE {min_value}")
    if explicit or max_value != default_max:
        parts.append(f"MAXVALUE {max_value}")
    if explicit or seq.start != default_start:
        parts.append(f"START WITH {seq.start}")
    if explicit or seq.cache != 1:
        parts.append(f"CACHE {seq.cache}")
    if explicit or seq.cycle:
        parts.append("CYCLE" if seq.cycle else "NO CYCLE")
    return parts


def narrows(old: Options, old_type: str, new: Options, new_type: str) -> bool:
    """Whether the new bounds leave out values the old ones allowed (the current value may then
    fall outside them, which PostgreSQL refuses unless the sequence is restarted)."""
    old_min, old_max = bounds(old, old_type)
    new_min, new_max = bounds(new, new_type)
    return new_min > old_min or new_max < old_max


def emit_keeping_value_valid(
    alter: str, restart: str, sequence: str, new: Options, data_type: str, emit: Emit
) -> None:
    """Run ``alter`` (which narrows a sequence's bounds) so that it cannot fail on the live
    current value: only when that value is outside the new bounds, ``restart`` (e.g.
    ``RESTART WITH 5``) is appended, which moves the sequence to its new START. A sequence whose
    value is within the bounds is never reset. ``sequence`` is an SQL expression of type
    regclass. The position a restart gives up cannot be restored by the reverse script."""
    low, high = bounds(new, data_type)
    emit(
        f"""DO $restart$
DECLARE
  current_value bigint;
BEGIN
  EXECUTE format('SELECT last_value FROM %s', {sequence}) INTO current_value;
  -- Restarted at START only if the current value is outside the new bounds.
  IF current_value < {low} OR current_value > {high} THEN
    EXECUTE {literal(f"{alter} {restart}")};
  ELSE
    EXECUTE {literal(alter)};
  END IF;
END
$restart$""",
        H.IRREVERSIBLE,
    )


def render_sequence(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.CREATE:
        seq = op.obj_as(Sequence)
        options = " ".join([f"AS {seq.data_type}", *sequence_options(seq, seq.data_type)])
        emit(f"CREATE SEQUENCE {name} {options}")
        return
    if op.kind is OpKind.DROP:
        # Its current value is lost: the reverse creates it again at START.
        emit(f"DROP SEQUENCE {name}", H.DATA_LOSS, H.IRREVERSIBLE)
        return
    old, new = op.old_as(Sequence), op.new_as(Sequence)
    changes = []
    if old.data_type != new.data_type:
        changes.append(f"AS {new.data_type}")
    option_keys = ("increment", "min_value", "max_value", "start", "cache", "cycle")
    if any(getattr(old, k) != getattr(new, k) for k in option_keys):
        old_opts = set(sequence_options(old, old.data_type, explicit=True))
        changes += [
            o for o in sequence_options(new, new.data_type, explicit=True) if o not in old_opts
        ]
    if changes:
        alter = f"ALTER SEQUENCE {name} {' '.join(changes)}"
        if narrows(old, old.data_type, new, new.data_type):
            restart = f"RESTART WITH {new.start}"
            emit_keeping_value_valid(
                alter, restart, f"{literal(name)}::regclass", new, new.data_type, emit
            )
        else:
            emit(alter)
    if old.owned_by != new.owned_by:
        owner = new.owned_by
        target = (
            "NONE" if owner is None else f"{qn(owner.schema_name, owner.table)}.{q(owner.column)}"
        )
        emit(f"ALTER SEQUENCE {name} OWNED BY {target}")
