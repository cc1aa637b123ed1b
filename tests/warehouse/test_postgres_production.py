"""The production store under what production does to it: runs on hosts whose clocks differ, a
connection killed mid-transaction, a URL with a password in it."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState
from amili_pipelines.warehouse import open_warehouse
from amili_pipelines.warehouse.postgres import outbox as pg_outbox
from amili_pipelines.warehouse.postgres.connection import WarehouseUnavailable, describe
from tests.support.records import entry


@pytest.fixture()
def pg_url(postgres_server, request) -> str:
    return postgres_server.create_database(f"prod_{abs(hash(request.node.nodeid)) % 10**12}")


def test_a_run_on_a_host_whose_clock_is_ahead_does_not_take_over_a_live_claim(pg_url, monkeypatch):
    """The lease is the database's time, not each host's: a run whose clock is 20 minutes ahead
    (past the 10 minute lease) must not think a live run's claim lapsed and send its invoices again."""
    with open_warehouse(pg_url) as a, open_warehouse(pg_url) as b:
        a.outbox.enqueue([entry("1"), entry("2")])
        mine = a.outbox.claim([OutboxState.PENDING], market=Market.SE, run_id="run-a", limit=10)
        a.outbox.mark_in_flight(mine, run_id="run-a")
        monkeypatch.setattr(pg_outbox, "utcnow", lambda: utcnow() + timedelta(minutes=20))
        assert b.outbox.claim([OutboxState.PENDING, OutboxState.IN_FLIGHT], market=Market.SE, run_id="run-b",
                              limit=10) == []
        assert b.outbox.state_counts(market=Market.SE, unclaimed=True)["in_flight"] == 0


def test_a_claim_whose_lease_passed_is_taken_over(pg_url, monkeypatch):
    monkeypatch.setenv("AMILI_OUTBOX_LEASE_S", "0.2")
    with open_warehouse(pg_url) as a, open_warehouse(pg_url) as b:
        a.outbox.enqueue([entry("1")])
        assert len(a.outbox.claim([OutboxState.PENDING], market=Market.SE, run_id="run-a", limit=10)) == 1
        assert b.outbox.claim([OutboxState.PENDING], market=Market.SE, run_id="run-b", limit=10) == []
        b.session.execute("SELECT pg_sleep(0.3)")
        assert [r.invoice_key for r in b.outbox.claim([OutboxState.PENDING], market=Market.SE, run_id="run-b",
                                                      limit=10)] == ["demo-se/1"]


def test_a_connection_killed_inside_an_exclusive_block_says_so_and_leaves_nothing_half_written(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as admin:
        with pytest.raises(psycopg.OperationalError) as raised, open_warehouse(pg_url) as wh:
            with wh.exclusive("books/demo-se"), wh.transaction():
                wh.outbox.enqueue([entry("1")])
                admin.execute("SELECT pg_terminate_backend(%s)", [wh.connection.info.backend_pid])
                wh.outbox.enqueue([entry("2")])
    # The server's reason, not a follow-up 'the connection is closed' from releasing the lock.
    assert "terminating connection" in str(raised.value)
    with open_warehouse(pg_url) as wh:
        assert wh.outbox.state_counts()["pending"] == 0, "the transaction was rolled back as a whole"
        with wh.exclusive("books/demo-se"):  # the dead holder's lock went with its connection
            pass


@pytest.mark.parametrize("url", [
    "postgresql://amili:s3cretpw@db.example:5432/amili",
    "postgresql://amili@db.example:5432/amili?password=s3cretpw&sslmode=require",
    "postgresql://amili@db.example/amili?sslmode=require&password=s3cretpw",
    "postgresql://amili:s3cr@tpw@db.example/amili",
    "postgresql+psycopg://amili:s3cr%40tpw@db.example/amili",
])
def test_no_password_in_the_description(url):
    said = describe(url)
    assert "s3cr" not in said and "tpw" not in said, said
    assert "db.example" in said and "amili" in said


@pytest.mark.parametrize("secret_at", ["user", "query", "unencoded"])
def test_an_unreachable_or_refused_database_is_one_line_without_the_password(postgres_server, secret_at):
    port = postgres_server.port
    url = {"user": f"postgresql://nobody_here:s3cretpw@127.0.0.1:{port}/postgres",
           "query": f"postgresql://nobody_here@127.0.0.1:{port}/postgres?password=s3cretpw",
           "unencoded": "postgresql://amili:s3cr@tpw@127.0.0.1:1/postgres"}[secret_at]
    with pytest.raises(WarehouseUnavailable) as raised, open_warehouse(url):
        pass
    said = str(raised.value)
    assert "\n" not in said
    assert "s3cr" not in said and "tpw" not in said, said


def test_a_held_exclusive_block_is_waited_for_within_a_bound_and_its_holder_named(pg_url, monkeypatch):
    from amili_pipelines.warehouse import WarehouseLocked

    monkeypatch.setenv("AMILI_EXCLUSIVE_WAIT_S", "1.5")
    with open_warehouse(pg_url) as holder, open_warehouse(pg_url) as waiter:
        with holder.exclusive("reconciliation"):
            with pytest.raises(WarehouseLocked) as raised, waiter.exclusive("reconciliation"):
                pass
            with waiter.exclusive("books/demo-se"):  # another name is not held
                pass
        assert f"PID {holder.connection.info.backend_pid}" in str(raised.value)
        assert "reconciliation" in str(raised.value) and "AMILI_EXCLUSIVE_WAIT_S" in str(raised.value)
        with waiter.exclusive("reconciliation"):  # released with the block
            pass
