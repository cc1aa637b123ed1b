"""System packages the tests need (PostgreSQL, Chromium), installed with apt-get when missing: a fresh
CI machine has neither. `make test` runs pytest-xdist workers, and dpkg takes one install at a time, so
the installs queue on a file lock and each looks again once it holds it."""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
LOCK = Path(tempfile.gettempdir()) / "amili-pipelines-apt.lock"


def ensure_installed(find: Callable[[], T | None], *packages: str, timeout: int = 1200) -> T:
    """What `find` finds, after `apt-get install packages` when it finds nothing."""
    found = find()
    if found:
        return found
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find()  # another worker may have installed it while this one waited
        if found:
            return found
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command, limit in ((["apt-get", "update"], 600),
                               (["apt-get", "install", "-y", "--no-install-recommends", *packages], timeout)):
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=limit)
            if done.returncode != 0:  # say why: CI shows this message, not apt-get's output
                raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    found = find()
    if not found:
        raise RuntimeError(f"apt-get installed {' '.join(packages)} but it is still not found")
    return found
