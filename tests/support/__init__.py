"""What the tests share that is not a test: where the infrastructure is, the running service
and its events, the engine's round trip on real databases, independent schema readers.

Test modules import from here (or from ``tests.conformance``' loaders), never from each other;
fixtures live in the ``conftest.py`` of the folder that covers their users and call these.
tests/unit/test_test_imports.py checks that.
"""
