"""Reconciliation per case (what we claimed against what came back) and its discrepancies.

Kept up to date incrementally: a run recomputes only the cases, lines and invoices whose inputs
changed since the previous run (:mod:`amili_pipelines.warehouse.common.reconcile_changes`), with
the same statements a full rebuild runs over everything
(:mod:`amili_pipelines.warehouse.common.reconcile_sql`), so both give the same tables. A full
rebuild happens when asked, on the first run, after a migration or a change of the rules or of
the creditors' grace days, and at least every ``full_every_days``. One transaction either way.

The run's date lives in ``reconciliation_runs``: the views ``reconciliation`` and
``reconciliation_discrepancies`` show it on every row (and each case's number of findings), so a
new day rewrites no row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.warehouse.common import SqlSession
from amili_pipelines.warehouse.common import reconcile_changes as changes
from amili_pipelines.warehouse.common.figures import invoice_number_of
from amili_pipelines.warehouse.common.reconcile_sql import (
    CASE_COLUMNS,
    CLOSED_BUT_SOURCE_UNPAID,
    FIGURES,
    FINDING_COLUMNS,
    FULL_DIFF,
    NEW_ROWS,
    RULES,
    WRITE_DIFF,
    scope,
)
from amili_pipelines.warehouse.reconciliation import Discrepancy, ReconciliationRun, ReconciliationTotals

# Any change to the statements makes the next run a full rebuild.
RULES_VERSION = hashlib.sha256("\n".join(
    [FIGURES, *(r.sql for r in RULES), changes.CHANGED_CASES[0], changes.CHANGED_LINES[0],
     changes.CHANGED_INVOICES[0], changes.PARTITIONS_SQL]).encode()).hexdigest()[:16]
_RUN_COLUMNS = ("as_of", "version", "grace", "mode", "full_as_of", *changes.MARKS, "finished_at", "cases_recomputed")


class SqlReconciliationStore:
    def __init__(self, session: SqlSession, *, overlap: timedelta = timedelta(minutes=10),
                 full_every_days: int = 7) -> None:
        self.db = session
        # How far before the previous run's watermarks changes are looked for again (see
        # reconcile_changes): more than a writing transaction lasts plus the clocks' skew.
        self.overlap = overlap
        # A full rebuild at least this often also takes in what bypassed the stores (a hand-made fix).
        self.full_every_days = full_every_days

    def rebuild(self, *, as_of: date, grace_days: Mapping[str, int] | None = None,
                full: bool = False) -> ReconciliationRun:
        """Bring ``reconciliation`` and its discrepancies up to date with the stored facts, atomically."""
        grace = sorted((grace_days or {}).items())
        grace_params = [[c for c, _ in grace], [d for _, d in grace]]
        grace_text = json.dumps(grace)
        with self.db.transaction():
            version = f"{RULES_VERSION}/{self.db.scalar('SELECT max(version) FROM schema_migrations')}"
            previous = self._previous()
            marks = dict(zip(changes.MARKS, self.db.execute(changes.MARKS_SQL).fetchall()[0], strict=True))
            self._drop_key_tables()
            self.db.execute(changes.PARTITIONS_SQL)
            why = self._why_full(previous, as_of=as_of, version=version, grace=grace_text, asked=full)
            if why:
                recomputed = self._full(grace_params)
            else:
                recomputed = self._incremental(previous, grace_params)
            for sql in changes.SAVE_PARTITIONS:
                self.db.execute(sql)
            next_cut = (marks["changes_at"] or changes.EPOCH) - self.overlap - timedelta(days=1)
            self.db.execute(changes.PRUNE_CHANGES, [next_cut])
            self._drop_key_tables()
            run = ReconciliationRun(mode="full" if why else "incremental", reason=why or "changes since the last run",
                                    cases_recomputed=recomputed)
            full_as_of = as_of if why else previous["full_as_of"]
            self._save(as_of=as_of, version=version, grace=grace_text, mode=run.mode, full_as_of=full_as_of,
                       marks=marks, recomputed=recomputed)
        return run

    # -- the two ways --------------------------------------------------------------------------

    def _full(self, grace_params: list) -> int:
        everything = scope(incremental=False)
        # Only the rows that differ are rewritten (FULL_DIFF): an unchanged case costs a lookup.
        self.db.execute(FULL_DIFF.format(figures=self._fingerprinted(everything)))
        for sql in WRITE_DIFF:
            self.db.execute(sql)
        self.db.execute("DELETE FROM reconciliation_findings")
        for rule in RULES:
            self._insert_findings(rule.sql.format(**everything), grace_params if rule.params else None)
        return int(self.db.scalar("SELECT count(*) FROM reconciliation_cases") or 0)

    def _incremental(self, previous: dict[str, Any], grace_params: list) -> int:
        cut = {m: (previous[m] or changes.EPOCH) - self.overlap for m in changes.MARKS}
        for sql, names in (changes.CHANGED_CASES, changes.CHANGED_LINES, changes.CHANGED_INVOICES):
            self.db.execute(sql, [cut[n] for n in names])
        narrowed = scope(incremental=True)
        # Computed once into _rc_new: written to the table and read by the rules (scope "results").
        for sql in NEW_ROWS:
            self.db.execute(sql.format(figures=self._fingerprinted(narrowed)))
        self.db.execute(changes.DELETE_CHANGED_CASES)
        self.db.execute(f"INSERT INTO reconciliation_cases ({CASE_COLUMNS}, fingerprint)"
                        f" SELECT {CASE_COLUMNS}, fingerprint FROM _rc_new")
        # A source partition read, replaced or removed can change what any invoice's source shows.
        sources_changed = bool(self.db.scalar(changes.PARTITIONS_CHANGED_SQL))
        for rule in RULES:
            whole = rule is CLOSED_BUT_SOURCE_UNPAID and sources_changed
            self.db.execute(changes.delete_findings(rule.reason, None if whole else rule.keyed_by))
            sql = rule.sql.format(**(scope(incremental=False) if whole else narrowed))
            self._insert_findings(sql, grace_params if rule.params else None)
        return int(self.db.scalar("SELECT count(*) FROM _rc_cases") or 0)

    def _fingerprinted(self, fields: dict[str, str]) -> str:
        """FIGURES in this scope, each row with the fingerprint of its columns."""
        columns = ", ".join(f"f.{c.strip()}" for c in CASE_COLUMNS.split(","))
        return f"SELECT f.*, {self.db.fingerprint.format(columns)} AS fingerprint FROM ({FIGURES.format(**fields)}) f"

    def _insert_findings(self, select: str, params: list | None) -> None:
        self.db.execute(f"INSERT INTO reconciliation_findings ({FINDING_COLUMNS}) " + select, params)

    # -- the run's state -----------------------------------------------------------------------

    def _why_full(self, previous: dict[str, Any] | None, *, as_of: date, version: str, grace: str,
                  asked: bool) -> str | None:
        if asked:
            return "asked for"
        if previous is None or previous["version"] is None:
            return "no earlier run"
        if previous["version"] != version:
            return "the schema or the reconciliation rules changed"
        if previous["grace"] != grace:
            return "the creditors' grace days changed"
        if previous["full_as_of"] is None or (as_of - previous["full_as_of"]).days >= self.full_every_days:
            return f"the last full rebuild is {self.full_every_days} or more days old"
        return None

    def _previous(self) -> dict[str, Any] | None:
        rows = self.db.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM reconciliation_runs WHERE id = 1").fetchall()
        return dict(zip(_RUN_COLUMNS, rows[0], strict=True)) if rows else None

    def _save(self, *, as_of: date, version: str, grace: str, mode: str, full_as_of: date,
              marks: dict[str, datetime | None], recomputed: int) -> None:
        values = [as_of, version, grace, mode, full_as_of, *(marks[m] for m in changes.MARKS), utcnow(), recomputed]
        self.db.execute("DELETE FROM reconciliation_runs")
        self.db.execute(f"INSERT INTO reconciliation_runs (id, {', '.join(_RUN_COLUMNS)})"
                        f" VALUES (1, {', '.join('?' for _ in _RUN_COLUMNS)})", values)

    def _drop_key_tables(self) -> None:
        for table in changes.KEY_TABLES:
            self.db.execute(f"DROP TABLE IF EXISTS {table}")

    # -- reading -------------------------------------------------------------------------------

    def totals(self) -> ReconciliationTotals:
        t = ReconciliationTotals()
        t.cases_by_status = dict(self.db.execute(
            "SELECT status, count(*) FROM reconciliation_cases GROUP BY status").fetchall())
        for cur, claimed, paid, remaining in self.db.execute(
            "SELECT coalesce(currency, '?'), sum(claimed_capital), sum(paid_out), sum(remaining_capital) "
            "FROM reconciliation_cases GROUP BY coalesce(currency, '?') ORDER BY 1"
        ).fetchall():
            t.money_by_currency[cur] = (Decimal(claimed), Decimal(paid), Decimal(remaining))
        for reason, severity, n in self.db.execute(
            "SELECT reason, severity, count(*) FROM reconciliation_findings GROUP BY reason, severity"
        ).fetchall():
            t.discrepancies[(reason, severity)] = int(n)
        return t

    def discrepancies(self, reasons: Sequence[str]) -> list[Discrepancy]:
        """The current discrepancies with these reasons, ordered for a person to read."""
        marks = ", ".join("?" for _ in reasons)
        rows = self.db.execute(
            f"""SELECT reason, market, coalesce({invoice_number_of()}, ''), coalesce(case_id, ''),
                       coalesce(line_id, ''), amount, detail
                FROM reconciliation_findings WHERE reason IN ({marks})
                ORDER BY reason, market, invoice_key, line_id""",
            list(reasons),
        ).fetchall()
        return [Discrepancy(*r) for r in rows]
