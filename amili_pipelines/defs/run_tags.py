"""Which process runs a run: tags that let a later run (or an operator) tell a live run from a dead one.

Headless runs carry them from the start; runs the daemon launches tag themselves when their first
writing step starts (the run worker's pid is only known inside it).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

TAG_HOST, TAG_PID, TAG_PID_START = "amili/host", "amili/pid", "amili/pid_start"


def process_start(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 counted after the command name


def own_tags() -> dict[str, str]:
    pid = os.getpid()
    return {TAG_HOST: socket.gethostname(), TAG_PID: str(pid), TAG_PID_START: process_start(pid) or ""}


def tag_run_with_this_process(context: dg.AssetExecutionContext) -> None:
    """Record this step's process on its run (once): a run killed later is then recognisable as dead."""
    tags = own_tags()
    if context.run.tags.get(TAG_PID) != tags[TAG_PID]:
        context.instance.add_run_tags(context.run.run_id, tags)
