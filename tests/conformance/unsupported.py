"""Conformance cases we knowingly do not support yet: ``{"suite/case": "reason"}``.

``tests/integration/test_conformance.py`` marks them ``xfail(strict=True)``, so a case that
starts passing fails the suite until it is removed from here. Each reason names the missing
feature or the engine bug (an engine bug listed here is a known, open defect).
``python -m tests.conformance.report --suggest-unsupported`` prints candidates and stale entries.
"""

from __future__ import annotations

# Grouped by the missing feature, for reading; UNSUPPORTED below is the flat mapping.
_MISSING: dict[str, list[str]] = {
    "not supported: column-level privileges (GRANT ... (column))": [
        "psqldef/tests_manage_privilege/ManagePrivilegeSequenceAndColumn",
        "psqldef/tests_managed_roles/ManagedRolesColumnGrant",
        "psqldef/tests_managed_roles/ManagedRolesColumnGrantDriftRevoke",
    ],
    "not supported: CREATE COLLATION": [
        "migra/collations",
    ],
    "engine bug: domain CHECK expressions are cut short when rendered": [
        "psqldef/tests_domains/CreateDomainWithCheckValue",
        "psqldef/tests_domains/CreateDomainDateOfBirth",
        "psqldef/tests_domains/CreateDomainLowercaseString",
        "psqldef/tests_domains/CreateDomainBoundedString",
        "psqldef/tests_domains/CreateDomainPhoneNumber",
        "psqldef/tests_domains/CreateDomainUrl",
        "psqldef/tests_domains/CreateDomainUuidString",
    ],
    "engine bug: a domain is created before the function its CHECK calls": [
        "psqldef/tests_dependency_ordering/FunctionBeforeDomain_DomainCheck",
    ],
    "engine bug: identity sequence bounds change without a valid RESTART": [
        "psqldef/tests_identity/IdentitySequenceOptionsIgnored",
    ],
}

UNSUPPORTED: dict[str, str] = {case: reason for reason, cases in _MISSING.items() for case in cases}
"""``{"suite/case": "reason"}`` of the cases expected to fail (strict xfail)."""
