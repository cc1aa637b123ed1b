-- What each source said about each invoice's balance, per partition (see the DuckDB migration).
CREATE TABLE source_balances (
    partition_date  DATE NOT NULL,
    source          TEXT NOT NULL,
    creditor        TEXT NOT NULL,
    invoice_key     TEXT NOT NULL,
    invoice_number  TEXT NOT NULL,
    open_balance    NUMERIC(18, 2),
    due_date        DATE,
    status          TEXT NOT NULL,
    is_unpaid       BOOLEAN NOT NULL,
    location        TEXT NOT NULL,
    row_number      INTEGER NOT NULL,
    recorded_at     TIMESTAMP NOT NULL
);
CREATE INDEX source_balances_partition ON source_balances (source, partition_date);
CREATE INDEX source_balances_key ON source_balances (invoice_key);

ALTER TABLE source_files ADD COLUMN partition_date DATE;
ALTER TABLE source_files ADD COLUMN pending_rows INTEGER;

CREATE TABLE source_extractions (
    partition_date   DATE NOT NULL,
    source           TEXT NOT NULL,
    creditor         TEXT NOT NULL,
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

CREATE VIEW latest_source_balances AS
SELECT partition_date, source, creditor, invoice_key, invoice_number, open_balance, due_date, status, is_unpaid,
       location, row_number, recorded_at
FROM (
    SELECT b.*, row_number() OVER (
        PARTITION BY source, invoice_key ORDER BY partition_date DESC, recorded_at DESC, row_number DESC
    ) AS rn
    FROM source_balances b
) ranked WHERE rn = 1;
