"""Fixtures for the follow-up tests: a reset emulator, a creditors file and warehouse paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "reconciliation"))

import followup_support as fs  # noqa: E402


@pytest.fixture()
def followup(fresh_emulator, tmp_path: Path) -> fs.FollowupEnv:
    return fs.make_env(fresh_emulator, tmp_path)
