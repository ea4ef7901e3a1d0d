"""A pause of Python's cyclic garbage collector around the engine's bulk work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_state = {"depth": 0, "was_enabled": False}


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile (nesting allowed, also across tasks); the
    collector's state is restored when the outermost pause ends.

    Catalogs, operations and statements hold no reference cycles, yet on a large schema the
    collector's passes over the hundreds of thousands of objects they allocate took half of
    the engine's CPU time: each pass rescans everything still young.
    """
    if _state["depth"] == 0:
        _state["was_enabled"] = gc.isenabled()
        gc.disable()
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if _state["depth"] == 0 and _state["was_enabled"]:
            gc.enable()
