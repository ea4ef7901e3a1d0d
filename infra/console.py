"""What the infra commands print: outcomes on stdout, progress chatter on stderr."""

from __future__ import annotations

import sys

# Width of the "kafka:" / "postgres:" labels that start each outcome line.
LABEL_WIDTH = 9


def progress(message: str) -> None:
    """A progress line on stderr (``[infra] ...``); stdout stays for the outcome."""
    print(f"[infra] {message}", file=sys.stderr, flush=True)


def report(name: str, text: str) -> None:
    """The outcome line of ``name`` on stdout, e.g. ``kafka:    started   pid 42 ...``."""
    print(f"{name + ':':<{LABEL_WIDTH}} {text}", flush=True)
