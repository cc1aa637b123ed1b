-- What the sources delivered and what validation said about it (PostgreSQL; same tables as
-- warehouse/duckdb/sql/001_invoices.sql, plus surrogate ids where DuckDB uses its rowid).

CREATE TABLE extracted_invoices (
    id               BIGSERIAL PRIMARY KEY,
    partition_date   DATE NOT NULL,
    source           TEXT NOT NULL,
    invoice_key      TEXT NOT NULL,
    creditor         TEXT NOT NULL,
    market           TEXT NOT NULL,
    location         TEXT NOT NULL,
    row_number       INTEGER NOT NULL,
    invoice_number   TEXT,
    invoice_date     DATE,
    due_date         DATE,
    currency         TEXT,
    total_amount     NUMERIC(18, 2),
    open_balance     NUMERIC(18, 2),
    customer_kind    TEXT,
    customer_name    TEXT,
    customer_id_number TEXT,             -- personal identity numbers: never published unmasked
    payment_reference TEXT,
    line_count       INTEGER NOT NULL,
    content_hash     TEXT,
    is_valid         BOOLEAN NOT NULL,
    invoice_json     JSON NOT NULL,
    extracted_at     TIMESTAMP NOT NULL
);
CREATE INDEX extracted_invoices_partition ON extracted_invoices (partition_date, source);
CREATE INDEX extracted_invoices_key ON extracted_invoices (invoice_key);

CREATE TABLE invoice_issues (
    partition_date DATE NOT NULL,
    source         TEXT NOT NULL,
    invoice_key    TEXT NOT NULL,
    rule           TEXT NOT NULL,
    severity       TEXT NOT NULL,
    field          TEXT NOT NULL,
    value          TEXT,
    message        TEXT NOT NULL,
    location       TEXT,
    row_number     INTEGER
);
CREATE INDEX invoice_issues_partition ON invoice_issues (partition_date, source, invoice_key);

CREATE TABLE source_files (
    source       TEXT NOT NULL,
    path         TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    size_bytes   BIGINT,
    rows_read    INTEGER,
    read_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (source, path, fingerprint)
);

CREATE VIEW latest_invoices AS
SELECT partition_date, source, invoice_key, creditor, market, location, row_number, invoice_number, invoice_date,
       due_date, currency, total_amount, open_balance, customer_kind, customer_name, customer_id_number,
       payment_reference, line_count, content_hash, is_valid, invoice_json, extracted_at
FROM (
    SELECT e.*, row_number() OVER (
        PARTITION BY invoice_key ORDER BY partition_date DESC, extracted_at DESC, source
    ) AS rn
    FROM extracted_invoices e
) ranked WHERE rn = 1;

CREATE VIEW quarantine AS
SELECT i.invoice_key, i.source, i.partition_date, i.rule, i.field, i.value, i.message, i.location, i.row_number
FROM invoice_issues i
JOIN latest_invoices l
  ON l.invoice_key = i.invoice_key AND l.source = i.source AND l.partition_date = i.partition_date
WHERE i.severity = 'error' AND NOT l.is_valid;
