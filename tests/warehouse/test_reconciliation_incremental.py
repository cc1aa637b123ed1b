"""Contract: an incremental reconciliation equals a full rebuild, whatever changed in between.

A differential property test: random sequences of what the pipeline writes (outbox entries and
outcomes, cases, settlement lines moving between cases or tied to their case later, case actions,
source partitions read, replaced and removed), with a reconciliation now and then. One store only
ever runs incrementally (no safety margin on its watermarks, so nothing is recomputed unless it
changed), a twin fed the same writes rebuilds in full each time; the views ``reconciliation`` and
``reconciliation_discrepancies`` must be equal after every run, on both databases.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from amili_pipelines.domain.case_actions import ActionState, NewCaseAction
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from amili_pipelines.warehouse import open_warehouse
from amili_pipelines.warehouse.tables import balances_table
from tests.support.records import D, case, entry, line

NUMBERS = ("A", "B", "C", "D", "E")
CASES = ("c1", "c2", "c3", "c4", "c5", "c6")
AMOUNTS = ("0.00", "50.00", "100.00", "150.00", "300.00")
DAYS = (date(2026, 5, 1), date(2026, 5, 10), date(2026, 5, 20))
START = date(2026, 6, 1)

number = st.sampled_from(NUMBERS)
case_id = st.sampled_from(CASES)
amount = st.sampled_from(AMOUNTS)
OPERATIONS = st.one_of(
    st.tuples(st.just("enqueue"), number, amount),
    st.tuples(st.just("outcome"), number, st.sampled_from(["registered", "registered", "rejected", "unknown_outcome"]),
              case_id, st.booleans()),
    st.tuples(st.just("case"), case_id, st.one_of(st.none(), number), amount, st.one_of(st.none(), amount),
              st.sampled_from([None, None, "paid", "credited", "cancelled", "withdrawn", "closed"]),
              st.one_of(st.none(), st.sampled_from(DAYS))),
    st.tuples(st.just("line"), st.sampled_from(("l1", "l2", "l3", "l4", "l5")), st.one_of(st.none(), case_id),
              amount, st.one_of(st.none(), number)),
    st.tuples(st.just("link")),
    st.tuples(st.just("action"), number, st.sampled_from(["payment", "crediting", "cancellation"]), amount,
              st.sampled_from(list(ActionState))),
    st.tuples(st.just("partition"), st.sampled_from(("erp1", "erp2")), st.sampled_from(DAYS),
              st.lists(st.tuples(number, amount, st.booleans()), max_size=4, unique_by=lambda r: r[0])),
    st.tuples(st.just("drop_partition"), st.sampled_from(("erp1", "erp2")), st.sampled_from(DAYS)),
    st.tuples(st.just("reconcile"), st.integers(0, 2), st.sampled_from([7, 7, 7, 14])),
)


def _key(n: str | None) -> str | None:
    return None if n is None else f"demo-se/{n}"


def _apply(wh, op: tuple, step: int) -> None:
    kind, *args = op
    if kind == "enqueue":
        n, amt = args
        wh.outbox.enqueue([entry(n, amount=amt, content_hash=f"h-{n}-{amt}")])
    elif kind == "outcome":
        n, state, cid, twice = args
        seen = ((cid, None), (f"{cid}-other", None)) if twice and state == "registered" else ()
        wh.outbox.record_outcomes([Outcome(Market.SE, _key(n), OutboxState(state),
                                           case_id=cid if state == "registered" else None, seen_cases=seen)])
    elif kind == "case":
        cid, n, claimed, remaining, closed, closed_day = args
        record = case(cid, n or "?", claimed=claimed, remaining=remaining, closed=closed)
        record.invoice_number = n
        record.creditor = "demo-se" if n else None
        record.closed_at = datetime.combine(closed_day, datetime.min.time()) if closed and closed_day else None
        wh.cases.upsert_cases([record])
    elif kind == "line":
        lid, cid, principal, n = args
        wh.settlements.upsert_lines([line(lid, cid, principal, number=n or "?")])
    elif kind == "link":
        wh.settlements.upsert_lines([])
    elif kind == "action":
        n, action, amt, state = args
        key = f"{n}-{action}-{amt}"
        wh.actions.add([NewCaseAction(key=key, market="SE", invoice_key=_key(n), creditor="demo-se", invoice_number=n,
                                      case_id=None, amili_invoice_id=None, action=action, purpose=f"{action}:{amt}",
                                      amount=None if action == "cancellation" else D(amt), currency="SEK",
                                      action_date=DAYS[0])])
        wh.actions.set_state(key, state)
    elif kind == "partition":
        source, day, rows = args
        recorded = datetime(2026, 6, 1) + timedelta(minutes=step)
        with wh.transaction():
            wh.invoices.clear_partition(partition_date=day, source=source)
            table = balances_table([(day, source, "demo-se", _key(n), n, D(amt), None,
                                     "unpaid" if unpaid else "paid", unpaid, "x.csv", i + 1, recorded)
                                    for i, (n, amt, unpaid) in enumerate(rows)])
            if table is not None:
                wh.invoices.insert(balances=table)
    elif kind == "drop_partition":
        source, day = args
        wh.invoices.clear_partition(partition_date=day, source=source)


def _view(wh) -> tuple[list, list]:
    db = wh.session
    rows = sorted(db.execute("SELECT * FROM reconciliation").fetchall(), key=repr)
    findings = sorted(db.execute("SELECT * FROM reconciliation_discrepancies").fetchall(), key=repr)
    return rows, findings


def _run_sequence(incremental, full, ops: list[tuple]) -> list:
    """Apply ``ops`` to both stores; after each reconcile compare them. Returns the incremental store's runs."""
    runs = []
    as_of = START
    for step, op in enumerate(ops):
        if op[0] == "reconcile":
            _, days_later, grace = op
            as_of += timedelta(days=days_later)
            got = incremental.reconciliation.rebuild(as_of=as_of, grace_days={"demo-se": grace})
            full.reconciliation.rebuild(as_of=as_of, grace_days={"demo-se": grace}, full=True)
            runs.append(got)
            assert _view(incremental) == _view(full), f"after step {step}: {op}"
        else:
            for wh in (incremental, full):
                _apply(wh, op, step)
    return runs


def _empty(wh) -> None:
    """Every table emptied (a fresh store without a new database per example)."""
    tables = [t for (t,) in wh.session.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' AND substr(table_name, 1, 1) <> '_'").fetchall()]
    with wh.transaction():  # one commit, not one per table (DuckDB syncs its log at each)
        for t in tables:
            wh.session.execute(f"DELETE FROM {t}")


@pytest.fixture()
def twin_stores(request: pytest.FixtureRequest, store_location: str, tmp_path):
    """The contract's store (incremental, no margin) and a twin of the same kind (always rebuilt)."""
    if store_location.startswith("postgresql"):
        twin = request.getfixturevalue("postgres_server").create_database(
            f"twin_{abs(hash(str(tmp_path))) % 10**12}")
    else:
        twin = str(tmp_path / "twin.duckdb")
    with ExitStack() as stack:
        incremental = stack.enter_context(open_warehouse(store_location))
        full = stack.enter_context(open_warehouse(twin))
        incremental.reconciliation.overlap = timedelta(0)
        incremental.reconciliation.full_every_days = 10**6
        yield incremental, full


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(ops=st.lists(OPERATIONS, min_size=5, max_size=40))
def test_incremental_runs_equal_a_full_rebuild(twin_stores, ops):
    incremental, full = twin_stores
    for wh in twin_stores:
        _empty(wh)
    _run_sequence(incremental, full, [*ops, ("reconcile", 0, 7)])


def test_a_day_of_changes_is_taken_in_incrementally(twin_stores):
    """A fixed sequence touching every kind of input; each run after the first is incremental."""
    incremental, full = twin_stores
    ops = [("enqueue", n, "300.00") for n in NUMBERS]
    ops += [("outcome", n, "registered", f"c{i + 1}", False) for i, n in enumerate(NUMBERS)]
    ops += [("case", "c1", "A", "300.00", "300.00", None, None), ("case", "c2", "B", "300.00", None, "paid", DAYS[0]),
            ("partition", "erp1", DAYS[1], [("B", "300.00", True), ("C", "300.00", True)]),
            ("reconcile", 0, 7),
            ("line", "l1", "c2", "300.00", "B"), ("line", "l2", None, "50.00", "C"), ("reconcile", 1, 7),
            ("case", "c3", "C", "300.00", "250.00", None, None), ("link",), ("reconcile", 1, 7),
            ("line", "l2", "c1", "50.00", "A"), ("action", "A", "payment", "100.00", ActionState.SENT),
            ("reconcile", 1, 7),
            ("outcome", "D", "registered", "c6", True), ("partition", "erp1", DAYS[2], [("B", "300.00", True)]),
            ("reconcile", 1, 7), ("drop_partition", "erp1", DAYS[2]), ("reconcile", 1, 7)]
    runs = _run_sequence(incremental, full, ops)
    assert [r.mode for r in runs] == ["full"] + ["incremental"] * 5
    print([r.cases_recomputed for r in runs])


def test_a_full_rebuild_happens_when_asked_or_the_grace_days_change(warehouse):
    warehouse.outbox.enqueue([entry("A")])
    assert warehouse.reconciliation.rebuild(as_of=START).mode == "full"
    assert warehouse.reconciliation.rebuild(as_of=START).mode == "incremental"
    assert warehouse.reconciliation.rebuild(as_of=START, full=True).reason == "asked for"
    assert warehouse.reconciliation.rebuild(as_of=START, grace_days={"demo-se": 3}).mode == "full"
    assert warehouse.reconciliation.rebuild(as_of=START + timedelta(days=7),
                                            grace_days={"demo-se": 3}).mode == "full", "a week since the last full"


def test_two_invoices_registered_to_one_case(twin_stores):
    """An anomaly the rules report: the case gets a row per invoice on both databases, and a full
    rebuild that rewrites only differing rows keeps them all (they share the case key)."""
    incremental, full = twin_stores
    ops = [("enqueue", "A", "0.00"), ("enqueue", "B", "0.00"), ("outcome", "A", "registered", "c1", False),
           ("outcome", "B", "registered", "c1", False), ("reconcile", 0, 7), ("enqueue", "C", "50.00"),
           ("outcome", "C", "registered", "c1", False), ("reconcile", 0, 7), ("reconcile", 7, 7)]
    _run_sequence(incremental, full, ops)
    assert incremental.session.scalar("SELECT count(*) FROM reconciliation WHERE case_id = 'c1'") == 3


def test_a_case_that_names_another_invoice_counts_for_that_invoice(twin_stores):
    """Amili's case c1 names invoice B (stored before any outcome named c1), and B was registered
    under c2: B has two cases at Amili. Our outbox then records A under c1: the stored case still
    names B, so B keeps its two cases and A has one. Once the case is read again it names A (the
    outbox's invoice for c1 wins) and B is back to one. Each run incremental, each equal to a full
    rebuild."""
    incremental, full = twin_stores
    steps = [
        [("enqueue", "A", "100.00"), ("enqueue", "B", "100.00"), ("outcome", "B", "registered", "c2", False),
         ("case", "c2", "B", "100.00", None, None, None), ("reconcile", 0, 7)],
        [("case", "c1", "B", "100.00", None, None, None), ("reconcile", 1, 7)],
        [("outcome", "A", "registered", "c1", False), ("reconcile", 1, 7)],
        [("case", "c1", "B", "100.00", None, None, None), ("reconcile", 1, 7)],
    ]
    flagged = []
    for ops in steps:
        runs = _run_sequence(incremental, full, ops)
        flagged.append((runs[-1].mode, incremental.session.execute(
            "SELECT invoice_key, case_id FROM reconciliation_discrepancies WHERE reason = 'invoice_with_two_cases'"
        ).fetchall()))
    assert flagged == [("full", []), ("incremental", [("demo-se/B", "c1, c2")]),
                       ("incremental", [("demo-se/B", "c1, c2")]), ("incremental", [])]


# Reads of two sources over the days (each a partition, read again or not) and a case on every
# invoice, mostly closed: the histories where a source's newest read is older than the other's.
SOURCE_READS = st.lists(st.tuples(st.sampled_from(("erp1", "erp2")), st.sampled_from(DAYS),
                                  st.lists(st.tuples(number, amount, st.booleans()), min_size=1, max_size=5,
                                           unique_by=lambda r: r[0])), min_size=1, max_size=6)
CLOSED_CASES = st.tuples(*[st.tuples(st.just(n), st.sampled_from(["paid", "paid", "credited", "cancelled", "closed", None]),
                                     st.one_of(st.none(), st.none(), st.sampled_from(DAYS))) for n in NUMBERS])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(reads=SOURCE_READS, closed=CLOSED_CASES, grace=st.sampled_from([0, 0, 7, 30]))
# erp2's newest read is older than erp1's, and only it shows B open; A was read again without C.
@example(reads=[("erp1", DAYS[0], [("C", "50.00", True)]), ("erp1", DAYS[2], [("A", "100.00", True)]),
                ("erp2", DAYS[1], [("B", "150.00", True), ("D", "150.00", False)])],
         closed=tuple((n, "paid", None) for n in NUMBERS), grace=0)
def test_closed_but_unpaid_at_source_is_what_the_whole_source_history_says(warehouse, reads, closed, grace):
    """The rule reads only the reads no older than the oldest of the sources' newest (a source keeps
    every day's); what it finds must be what the source view over the whole history (SOURCE_VIEW_SQL)
    implies."""
    from amili_pipelines.warehouse.common.reconcile_sql import SOURCE_VIEW_SQL

    _empty(warehouse)
    ops = [("partition", *read) for read in reads]
    ops += [("case", f"c{i}", n, "300.00", None, reason, day) for i, (n, reason, day) in enumerate(closed)]
    with warehouse.transaction():
        for step, op in enumerate(ops):
            _apply(warehouse, op, step)
    warehouse.reconciliation.rebuild(as_of=START, grace_days={"demo-se": grace}, full=True)
    db = warehouse.session
    view = {k: (present, bal, as_of) for k, present, bal, _, as_of, _ in db.execute(SOURCE_VIEW_SQL).fetchall()}
    expected = set()
    for cid, key, is_closed, reason, closed_at in db.execute(
            "SELECT case_id, invoice_key, is_closed, closed_reason, closed_at FROM reconciliation_cases").fetchall():
        present, bal, as_of = view.get(key, (False, None, None))
        if is_closed and reason not in ("cancelled", "withdrawn") and present and bal > D("0.005") and (
                closed_at is None or as_of >= closed_at.date() + timedelta(days=grace)):
            expected.add((cid, bal))
    found = set(db.execute("SELECT case_id, amount FROM reconciliation_findings"
                           " WHERE reason = 'closed_but_source_unpaid'").fetchall())
    assert found == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(reads=SOURCE_READS, closed=CLOSED_CASES)
# erp2's newest read (DAYS[1]) is the oldest newest: A was last read before it (only its whole
# history knows A), D's last word is erp2's, B and C are in a newest read.
@example(reads=[("erp1", DAYS[0], [("A", "100.00", True), ("D", "50.00", True)]),
                ("erp1", DAYS[2], [("B", "150.00", True)]),
                ("erp2", DAYS[1], [("C", "50.00", True), ("D", "50.00", False)])],
         closed=tuple((n, None, None) for n in NUMBERS))
def test_the_source_views_of_open_cases_are_what_the_whole_source_history_says(warehouse, reads, closed):
    """The back-to-Amili detection reads a bounded part of the source history (the reads no older
    than the oldest of the sources' newest, and the older rows of invoices gone since); each open
    case's view must be the source view over the whole history (SOURCE_VIEW_SQL)."""
    from amili_pipelines.domain.money import money
    from amili_pipelines.warehouse.common.reconcile_sql import SOURCE_VIEW_SQL

    _empty(warehouse)
    ops = [("partition", *read) for read in reads]
    for i, (n, reason, day) in enumerate(closed):
        ops += [("enqueue", n, "300.00"), ("outcome", n, "registered", f"c{i}", False),
                ("case", f"c{i}", n, "300.00", None, reason, day)]
    with warehouse.transaction():
        for step, op in enumerate(ops):
            _apply(warehouse, op, step)
    whole = {k: (bool(present), money(bal), status)
             for k, present, bal, _, _, status in warehouse.session.execute(SOURCE_VIEW_SQL).fetchall()}
    expected = {_key(n): whole[_key(n)] for n, reason, _ in closed if reason is None and _key(n) in whole}
    got = {v.invoice_key: (v.present, v.open_balance, v.source_status) for v in warehouse.actions.source_views()}
    assert got == expected
