"""Temporary alias while tests/emulator moves to package imports: the seed bodies live in tests.support."""

from tests.support.seed_bodies import SEEDS_DIR, seed_body  # noqa: F401
