"""Conformance cases we knowingly do not support yet: ``{"suite/case": "reason"}``.

``tests/conformance/test_conformance.py`` marks them ``xfail(strict=True)``, so a case that
starts passing fails the suite until it is removed from here. Each reason names the missing
feature or the engine bug (an engine bug listed here is a known, open defect).
``python -m tests.conformance.report --suggest-unsupported`` prints candidates and stale entries.
"""

from __future__ import annotations

# Grouped by the missing feature, for reading; UNSUPPORTED below is the flat mapping.
_MISSING: dict[str, list[str]] = {}

UNSUPPORTED: dict[str, str] = {case: reason for reason, cases in _MISSING.items() for case in cases}
"""``{"suite/case": "reason"}`` of the cases expected to fail (strict xfail)."""
