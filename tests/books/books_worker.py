"""The books use case in its own process, so a test can SIGKILL it at a point it chooses.

usage: python -m tests.books.books_worker DB BOOKS_DIR DAY [KILL_AT]

KILL_AT (test-only, none: run to the end) names the step at whose start the process kills itself:
``record:N`` (the N-th commit of what was exported or booked, after it), ``write:N`` (the N-th
file's temporary copy written, before its rename), ``renamed:N`` (just after the N-th rename) and
``manifest:N`` (the N-th manifest's temporary copy written, before its rename). Files are counted
in the order the run writes them, manifests included.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date
from pathlib import Path

from amili_pipelines.books import files as book_files
from amili_pipelines.books import write_erp_feedback, write_ledger
from amili_pipelines.warehouse import open_warehouse
from amili_pipelines.warehouse.common import books as store
from tests.books.crash_books import CREDITORS


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(kill_at: str) -> None:
    where, n = kill_at.split(":")
    count = {"record": 0, "write": 0, "renamed": 0, "manifest": 0}

    def step(name: str) -> None:
        count[name] += 1
        if name == where and count[name] == int(n):
            _die()

    real_replace = os.replace

    def replace(src, dst):  # write_atomically's rename: the temporary copy is complete here
        step("manifest" if Path(dst).name == "manifest.json" else "write")
        real_replace(src, dst)
        step("renamed")

    book_files.os.replace = replace  # os itself: in this process only the books write files

    for name in ("record_exports", "record_verifications"):
        real = getattr(store.SqlBooksStore, name)

        def recorded(self, *a, _real=real, **kw):
            out = _real(self, *a, **kw)
            step("record")
            return out

        setattr(store.SqlBooksStore, name, recorded)


def main(db: str, books: str, day: str, kill_at: str | None) -> None:
    if kill_at:
        _arm(kill_at)
    with open_warehouse(db) as wh:
        write_erp_feedback(wh, creditors=CREDITORS, books_dir=Path(books), day=date.fromisoformat(day))
        write_ledger(wh, creditors=CREDITORS, books_dir=Path(books), day=date.fromisoformat(day))
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4], sys.argv[4] if len(sys.argv) > 4 else None)
