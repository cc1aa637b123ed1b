"""Fixtures for the client tests; the shared data lives in amili_support (a uniquely named module,
because every test folder has a conftest and `from conftest import ...` would pick the wrong one)."""

from amili_support import amili_emulator, emulator, seed_body  # noqa: F401
