"""Conformance harness: other tools' public schema-diff test cases run against our engine.

``fixtures`` loads the cases (migra's FIXTURES folders, psqldef's YAML files) and runs one case
end to end; ``snapshot_full`` is the independent catalog comparison that judges convergence;
``unsupported`` lists the cases we knowingly fail; ``report`` runs everything and writes
``RESULTS.md``. ``test_conformance.py`` is the pytest face of the same code.
"""
