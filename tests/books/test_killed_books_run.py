"""Exactly once for the creditor's ERP and ledger when the books run is SIGKILLed: between recording
what was exported and writing its files, between two files, inside a manifest's write, around a
rename; then run again (with news, on the next day). An importer that follows the documented
procedure (the manifest's entries of its format, each file once) imports every fact exactly once,
and the temporary copies the killed runs left are gone after a later run."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import timedelta

from amili_pipelines.books.files import remove_leftovers
from tests.books.crash_books import DAY, Importer, expected_facts, run, seed


def _killed(db, books, kill_at, day=DAY) -> None:
    done = run(db, books, day=day, kill_at=kill_at)
    assert done.returncode == -signal.SIGKILL, f"{kill_at}: not killed: {done.stdout}{done.stderr[-2000:]}"


def test_killed_anywhere_then_run_again_every_fact_is_imported_once(tmp_path):
    db, books = tmp_path / "w.duckdb", tmp_path / "books"
    erp = Importer(books)
    seed(db, 1, 4)
    # Killed after the first kinds were recorded, before any file: the facts wait in the store.
    _killed(db, books, "record:2")
    erp.poll()
    assert erp.facts == {}, "no file yet"
    seed(db, 10, 2)  # news on the same day: a new batch
    # Killed between two files (the third one's copy written, not yet renamed into place).
    _killed(db, books, "write:3")
    erp.poll()
    seed(db, 20, 1)
    # The next day, killed inside the second manifest's write (the old manifest or the new one).
    _killed(db, books, "manifest:2", day=DAY + timedelta(days=1))
    erp.poll()
    leftovers = list(books.rglob(".*.tmp"))
    assert leftovers, "the killed runs left temporary copies"
    hour_ago = time.time() - 3600
    for tmp in leftovers:  # the next run comes later (a run renames its own copies within moments)
        os.utime(tmp, (hour_ago, hour_ago))
    done = run(db, books, day=DAY + timedelta(days=1))
    assert done.returncode == 0, done.stderr[-2000:]
    erp.poll()

    assert erp.problems == []
    assert [f for f, n in erp.facts.items() if n > 1] == [], "a fact imported twice"
    assert erp.facts == expected_facts(db), "every fact the store exported reached the importer, once"
    per_kind = Counter((creditor, kind) for creditor, kind, _ in erp.facts)
    assert {k: n for k, n in per_kind.items() if k[1] != "verification"} == {
        ("demo-se", "handed_over"): 7, ("demo-se", "payments"): 7, ("demo-no", "payments"): 7}
    assert per_kind[("demo-se", "verification")] == 7, "one verification per Swedish payout"
    assert list(books.rglob("*.tmp")) == [], "nothing half-written stays next to the files an ERP imports"



def test_only_a_temporary_copy_no_run_will_rename_is_removed(tmp_path):
    old, young = tmp_path / ".a.csv.1.tmp", tmp_path / ".b.csv.2.tmp"
    for tmp in (old, young):
        tmp.write_bytes(b"half")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    assert remove_leftovers(tmp_path) == 1
    assert not old.exists() and young.exists(), "a young copy may be a parallel run's, about to be renamed"
