-- Incremental reconciliation: a run recomputes only the cases whose inputs changed since the last
-- one (warehouse/common/reconcile_changes.py), so the result tables lose the run's date (it moves
-- to reconciliation_runs) and become reconciliation_cases / reconciliation_findings; the views
-- reconciliation and reconciliation_discrepancies keep their names and columns for every reader.
-- No primary key on the result tables: the reconciliation writes them, one row per key by
-- construction, and an index would cost a full rebuild more than all its joins.

CREATE TABLE reconciliation_cases (
    market              VARCHAR NOT NULL,
    case_id             VARCHAR NOT NULL,
    creditor            VARCHAR,
    invoice_key         VARCHAR,
    invoice_number      VARCHAR,
    currency            VARCHAR,
    claimed_capital     DECIMAL(18, 2) NOT NULL,
    paid_principal      DECIMAL(18, 2) NOT NULL,
    paid_interest       DECIMAL(18, 2) NOT NULL,
    paid_fees           DECIMAL(18, 2) NOT NULL,
    commission          DECIMAL(18, 2) NOT NULL,
    vat                 DECIMAL(18, 2) NOT NULL,
    paid_out            DECIMAL(18, 2) NOT NULL,
    paid_direct         DECIMAL(18, 2) NOT NULL,
    credited            DECIMAL(18, 2) NOT NULL,
    cancelled           DECIMAL(18, 2) NOT NULL,
    remaining_capital   DECIMAL(18, 2) NOT NULL,
    amili_remaining_capital DECIMAL(18, 2),
    case_state          VARCHAR,
    is_closed           BOOLEAN NOT NULL,
    closed_reason       VARCHAR,
    status              VARCHAR NOT NULL,
    amili_claimed_capital DECIMAL(18, 2),       -- the case's own capital and closing time, for the rules
    closed_at           TIMESTAMP,
    fingerprint         UBIGINT                   -- of the row's columns: a full rebuild rewrites only rows that differ
);

CREATE TABLE reconciliation_findings (
    market              VARCHAR NOT NULL,
    reason              VARCHAR NOT NULL,
    severity            VARCHAR NOT NULL,
    case_id             VARCHAR,
    invoice_key         VARCHAR,
    creditor            VARCHAR,
    line_id             VARCHAR,
    amount              DECIMAL(18, 2),
    detail              VARCHAR NOT NULL
);

-- The last run: its date, how it ran, and the watermarks the next one starts from.
CREATE TABLE reconciliation_runs (
    id                  INTEGER PRIMARY KEY,      -- always 1
    as_of               DATE NOT NULL,
    version             VARCHAR,                  -- rules and schema it ran with; NULL: rebuild in full
    grace               VARCHAR,                  -- the creditors' grace days it ran with (JSON)
    mode                VARCHAR,                  -- full | incremental
    full_as_of          DATE,                     -- the last full rebuild
    cases_at            TIMESTAMP,                -- newest cases.last_seen_at taken in
    outbox_at           TIMESTAMP,                -- registration_outbox.updated_at
    lines_at            TIMESTAMP,                -- settlement_lines.last_seen_at
    linked_at           TIMESTAMP,                -- settlement_lines.linked_at
    actions_at          TIMESTAMP,                -- case_actions_outbox.updated_at
    seen_at             TIMESTAMP,                -- amili_registrations_seen.seen_at
    changes_at          TIMESTAMP,                -- reconciliation_changes.changed_at
    finished_at         TIMESTAMP,
    cases_recomputed    INTEGER
);

-- Each source partition as the last run saw it: a partition read, replaced or removed since shows.
CREATE TABLE reconciliation_source_partitions (
    source              VARCHAR NOT NULL,
    partition_date      DATE NOT NULL,
    row_count           BIGINT NOT NULL,
    first_recorded      TIMESTAMP,
    last_recorded       TIMESTAMP,
    open_total          DECIMAL(38, 2),
    open_weighted       DECIMAL(38, 2),
    unpaid_rows         BIGINT,
    first_key           VARCHAR,
    last_key            VARCHAR
);

-- A settlement line that moved to another case leaves the case it left here (its new one is on
-- the line); pruned once every run has taken it in.
CREATE TABLE reconciliation_changes (
    market              VARCHAR NOT NULL,
    case_id             VARCHAR NOT NULL,
    changed_at          TIMESTAMP NOT NULL
);

-- When a line was last tied to its case after it was read (the case became known later).
ALTER TABLE settlement_lines ADD COLUMN linked_at TIMESTAMP;

-- What the last rebuild wrote stays visible until the next run, which rebuilds in full.
INSERT INTO reconciliation_cases
SELECT market, case_id, creditor, invoice_key, invoice_number, currency, claimed_capital, paid_principal,
       paid_interest, paid_fees, commission, vat, paid_out, paid_direct, credited, cancelled, remaining_capital,
       amili_remaining_capital, case_state, is_closed, closed_reason, status, NULL, NULL, NULL
FROM reconciliation;
INSERT INTO reconciliation_findings
SELECT market, reason, severity, case_id, invoice_key, creditor, line_id, amount, detail
FROM reconciliation_discrepancies;
INSERT INTO reconciliation_runs (id, as_of)
SELECT 1, max(as_of) FROM (SELECT as_of FROM reconciliation UNION ALL SELECT as_of FROM reconciliation_discrepancies) x
HAVING count(*) > 0;

DROP VIEW reconciliation_by_creditor;
DROP TABLE reconciliation;
DROP TABLE reconciliation_discrepancies;

-- Reconciliation per case as of the last run.
CREATE VIEW reconciliation AS
SELECT rr.as_of, r.market, r.case_id, r.creditor, r.invoice_key, r.invoice_number, r.currency, r.claimed_capital,
       r.paid_principal, r.paid_interest, r.paid_fees, r.commission, r.vat, r.paid_out, r.paid_direct, r.credited,
       r.cancelled, r.remaining_capital, r.amili_remaining_capital, r.case_state, r.is_closed, r.closed_reason,
       r.status, CAST(coalesce(f.n, 0) AS INTEGER) AS discrepancy_count
FROM reconciliation_cases r
CROSS JOIN reconciliation_runs rr
LEFT JOIN (SELECT market, case_id, count(*) AS n FROM reconciliation_findings WHERE case_id IS NOT NULL
           GROUP BY market, case_id) f ON f.market = r.market AND f.case_id = r.case_id;

-- What does not add up, one row per finding, as of the last run.
CREATE VIEW reconciliation_discrepancies AS
SELECT rr.as_of, f.market, f.reason, f.severity, f.case_id, f.invoice_key, f.creditor, f.line_id, f.amount, f.detail
FROM reconciliation_findings f CROSS JOIN reconciliation_runs rr;

-- Totals per creditor as of the last run.
CREATE VIEW reconciliation_by_creditor AS
SELECT as_of, market, creditor, currency,
       count(*) AS cases,
       count(*) FILTER (WHERE status = 'open') AS open,
       count(*) FILTER (WHERE status = 'partly_paid') AS partly_paid,
       count(*) FILTER (WHERE status = 'settled') AS settled,
       count(*) FILTER (WHERE status = 'closed_without_payment') AS closed_without_payment,
       sum(claimed_capital) AS claimed_capital,
       sum(paid_principal) AS paid_principal,
       sum(paid_interest) AS paid_interest,
       sum(paid_fees) AS paid_fees,
       sum(commission) AS commission,
       sum(vat) AS vat,
       sum(paid_out) AS paid_out,
       sum(paid_direct) AS paid_direct,
       sum(credited) AS credited,
       sum(cancelled) AS cancelled,
       sum(remaining_capital) AS remaining_capital
FROM reconciliation
GROUP BY ALL;
