-- What the sources delivered and what validation said about it.

-- One row per invoice per extraction partition (the as-of day the source was read for).
-- Re-running a partition replaces its rows for that source, so backfills never duplicate.
CREATE TABLE extracted_invoices (
    partition_date   DATE NOT NULL,
    source           VARCHAR NOT NULL,
    invoice_key      VARCHAR NOT NULL,   -- creditor/invoice_number
    creditor         VARCHAR NOT NULL,
    market           VARCHAR NOT NULL,   -- SE | NO
    location         VARCHAR NOT NULL,   -- file, table or URL read
    row_number       INTEGER NOT NULL,   -- 1-based record number within location
    invoice_number   VARCHAR,
    invoice_date     DATE,
    due_date         DATE,
    currency         VARCHAR,
    total_amount     DECIMAL(18, 2),
    open_balance     DECIMAL(18, 2),
    customer_kind    VARCHAR,
    customer_name    VARCHAR,
    customer_id_number VARCHAR,          -- personal identity numbers: never published unmasked
    payment_reference VARCHAR,
    line_count       INTEGER NOT NULL,
    content_hash     VARCHAR,
    is_valid         BOOLEAN NOT NULL,   -- no error-severity issue
    invoice_json     JSON NOT NULL,      -- the whole canonical invoice, to register from
    extracted_at     TIMESTAMP NOT NULL
);

-- Every broken rule on every extracted invoice (errors quarantine, warnings are recorded).
CREATE TABLE invoice_issues (
    partition_date DATE NOT NULL,
    source         VARCHAR NOT NULL,
    invoice_key    VARCHAR NOT NULL,
    rule           VARCHAR NOT NULL,
    severity       VARCHAR NOT NULL,     -- error | warning
    field          VARCHAR NOT NULL,
    value          VARCHAR,              -- masked where it is a personal identity number
    message        VARCHAR NOT NULL,
    location       VARCHAR,
    row_number     INTEGER
);

-- Files already read, so each file is read once unless its content changes.
CREATE TABLE source_files (
    source       VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,
    fingerprint  VARCHAR NOT NULL,       -- sha256 of the content
    size_bytes   BIGINT,
    rows_read    INTEGER,
    read_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (source, path, fingerprint)
);

-- The newest extraction of each invoice, whichever source and partition it came from.
CREATE VIEW latest_invoices AS
SELECT * EXCLUDE (rn) FROM (
    SELECT e.*, row_number() OVER (
        PARTITION BY invoice_key ORDER BY partition_date DESC, extracted_at DESC, source
    ) AS rn
    FROM extracted_invoices e
) WHERE rn = 1;

-- Invoices held back by our own validation, with every reason, as of their newest extraction.
-- An invoice fixed at the source drops out of here on the next run and proceeds.
CREATE VIEW quarantine AS
SELECT i.invoice_key, i.source, i.partition_date, i.rule, i.field, i.value, i.message, i.location, i.row_number
FROM invoice_issues i
JOIN latest_invoices l
  ON l.invoice_key = i.invoice_key AND l.source = i.source AND l.partition_date = i.partition_date
WHERE i.severity = 'error' AND NOT l.is_valid;
