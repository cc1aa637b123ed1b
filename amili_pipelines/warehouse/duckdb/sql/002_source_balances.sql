-- What each source said about each invoice's balance, per partition, and which files were read when.

-- One row per invoice number read from a source in a partition, whether it was extracted or not
-- (paid, not yet due). Reconciliation compares these with Amili's cases: an invoice paid directly
-- to the creditor, or a case closed while the source still shows the invoice unpaid.
-- Re-running a partition replaces its rows for that source.
CREATE TABLE source_balances (
    partition_date  DATE NOT NULL,
    source          VARCHAR NOT NULL,
    creditor        VARCHAR NOT NULL,
    invoice_key     VARCHAR NOT NULL,    -- creditor/invoice_number
    invoice_number  VARCHAR NOT NULL,
    open_balance    DECIMAL(18, 2),      -- NULL when the source's value could not be read
    due_date        DATE,
    status          VARCHAR NOT NULL,    -- unpaid | paid | not_due
    is_unpaid       BOOLEAN NOT NULL,    -- status = 'unpaid': handed over (or quarantined)
    location        VARCHAR NOT NULL,
    row_number      INTEGER NOT NULL,
    recorded_at     TIMESTAMP NOT NULL
);

-- Which partition read a file, and whether it held invoices not yet due (such a file is read
-- again even when unchanged: its invoices fall due with time, not with a new file).
ALTER TABLE source_files ADD COLUMN partition_date DATE;
ALTER TABLE source_files ADD COLUMN pending_rows INTEGER;

-- One row per extract run of a source and partition: the counts behind "nothing vanished".
CREATE TABLE source_extractions (
    partition_date   DATE NOT NULL,
    source           VARCHAR NOT NULL,
    creditor         VARCHAR NOT NULL,
    rows_read        INTEGER NOT NULL,
    extracted        INTEGER NOT NULL,
    skipped_paid     INTEGER NOT NULL,
    skipped_not_due  INTEGER NOT NULL,
    files_read       INTEGER NOT NULL,
    files_unchanged  INTEGER NOT NULL,
    files_failed     INTEGER NOT NULL,
    parse_issue_count INTEGER NOT NULL,
    errors           JSON,
    extracted_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (partition_date, source)
);

-- The newest balance each source reported per invoice (for reconciliation on any day).
CREATE VIEW latest_source_balances AS
SELECT * EXCLUDE (rn) FROM (
    SELECT b.*, row_number() OVER (
        PARTITION BY source, invoice_key ORDER BY partition_date DESC, recorded_at DESC, row_number DESC
    ) AS rn
    FROM source_balances b
) WHERE rn = 1;
