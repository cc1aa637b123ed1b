"""Two books runs at once (the production profile runs in parallel): the second run's news must not
vanish from the manifest because the first one saved an older one after it."""

from __future__ import annotations

import threading

import pytest

from amili_pipelines.books import write_erp_feedback
from amili_pipelines.books.files import Manifest
from amili_pipelines.warehouse import open_warehouse
from tests.books.crash_books import CREDITORS, DAY, Importer, expected_facts, seed

pytestmark = pytest.mark.integration


def test_two_runs_at_once_on_postgresql_list_every_file_in_the_manifest(postgres_server, tmp_path, monkeypatch):
    url = postgres_server.create_database("books_at_once")
    books = tmp_path / "books"
    seed(url, 1, 3)
    paused, go = threading.Event(), threading.Event()
    real_save = Manifest.save

    def slow_save(self):  # the first run is slow to save the Swedish ERP manifest (a big folder, a slow disk)
        if self.path.parent.parent.name == "demo-se" and not paused.is_set():
            paused.set()
            go.wait(timeout=3)  # runs that wait for this one let it go on after a while
        return real_save(self)

    monkeypatch.setattr(Manifest, "save", slow_save)
    failed: list[BaseException] = []

    def first_run() -> None:
        try:
            with open_warehouse(url) as wh:
                write_erp_feedback(wh, creditors=CREDITORS, books_dir=books, day=DAY)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failed.append(exc)

    first = threading.Thread(target=first_run)
    first.start()
    assert paused.wait(timeout=60), "the first run never reached its manifest"
    seed(url, 10, 2)  # news, found by a second run of the same day
    with open_warehouse(url) as wh:
        second = write_erp_feedback(wh, creditors=CREDITORS, books_dir=books, day=DAY)
    go.set()
    first.join(timeout=60)
    assert not first.is_alive() and failed == []
    assert second.new_rows["demo-se/payments"] == 2

    erp = Importer(books)
    erp.poll()
    assert erp.problems == []
    expected = {f: n for f, n in expected_facts(url).items() if f[1] != "verification"}
    assert erp.facts == expected, "a file on disk the manifest does not list is never imported"
