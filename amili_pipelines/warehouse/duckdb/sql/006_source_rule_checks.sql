-- Which rules version and payment-reference scheme checked each source's invoices at extract
-- time, so validation re-runs only the cross-invoice rules (and re-validates a source checked by
-- an older version). Earlier versions created this table on demand: IF NOT EXISTS keeps them.
CREATE TABLE IF NOT EXISTS source_rule_checks (
    partition_date   DATE NOT NULL,
    source           VARCHAR NOT NULL,
    rules_version    VARCHAR NOT NULL,
    reference_scheme VARCHAR,
    checked_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (partition_date, source)
);
