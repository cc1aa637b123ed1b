"""The books store restored to an earlier point (a backup, docs/deploy.md) while the folder keeps the
files written since: the store numbers its next batch as one the folder already holds. Writing other
rows under that name would hide them from an ERP that remembers the names it imported, or book
the old ones twice in one that goes by checksum: the run refuses, and overwrites nothing."""

from __future__ import annotations

import shutil

import pytest

from amili_pipelines.books import write_erp_feedback, write_ledger
from amili_pipelines.books.files import FolderDisagrees
from amili_pipelines.warehouse import open_warehouse
from tests.books.crash_books import CREDITORS, DAY, Importer, seed


def _books(db, books, *, ledger: bool) -> None:
    write = write_ledger if ledger else write_erp_feedback
    with open_warehouse(db) as wh:
        write(wh, creditors=CREDITORS, books_dir=books, day=DAY)


@pytest.mark.parametrize("ledger", [False, True], ids=["erp", "ledger"])
def test_a_restored_store_never_gives_a_file_already_listed_other_rows(tmp_path, ledger):
    db, backup, books = tmp_path / "w.duckdb", tmp_path / "backup.duckdb", tmp_path / "books"
    seed(db, 1, 2)
    _books(db, books, ledger=ledger)
    shutil.copy(db, backup)  # last night's backup
    seed(db, 10, 2)
    _books(db, books, ledger=ledger)  # news of the same day: batch 2
    erp = Importer(books)
    erp.poll()
    listed = {p: p.read_bytes() for p in books.rglob("*_2026-06-10_2.*")}
    assert listed, "the second batch was written"

    shutil.copy(backup, db)  # the store is restored; Amili's data is read again, with one more case
    seed(db, 10, 3)
    with pytest.raises(FolderDisagrees, match="_2026-06-10_2"):
        _books(db, books, ledger=ledger)
    assert {p: p.read_bytes() for p in books.rglob("*_2026-06-10_2.*")} == listed, "nothing was overwritten"
    erp.poll()
    assert erp.problems == []
    assert [f for f, n in erp.facts.items() if n > 1] == []
