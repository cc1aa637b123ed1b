-- Operator actions (retry a registration; withdraw, pause or resume a case): who asked for what,
-- why, and what Amili answered (see the DuckDB migration).
CREATE TABLE operator_audit (
    audit_id      TEXT NOT NULL PRIMARY KEY,
    requested_at  TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    actor         TEXT NOT NULL,
    via           TEXT NOT NULL,
    run_id        TEXT,
    action        TEXT NOT NULL,
    market        TEXT,
    invoice_key   TEXT NOT NULL,
    case_id       TEXT,
    reason        TEXT NOT NULL,
    request       TEXT,
    subject_key   TEXT,
    outcome       TEXT NOT NULL,
    answer        TEXT
);
CREATE INDEX operator_audit_invoice ON operator_audit (invoice_key);

-- A rejected invoice queued again is a new generation (Norway's batch IdempotencyKey includes it).
ALTER TABLE registration_outbox ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
