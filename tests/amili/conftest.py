"""Fixtures for the client tests (shared with other folders through tests.support.amili)."""

from tests.support.amili import amili_emulator, emulator, seed_body  # noqa: F401
