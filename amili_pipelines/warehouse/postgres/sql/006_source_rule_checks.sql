-- Which rules version and payment-reference scheme checked each source's invoices at extract
-- time, so validation re-runs only the cross-invoice rules (and re-validates a source checked by
-- an older version).
CREATE TABLE IF NOT EXISTS source_rule_checks (
    partition_date   DATE NOT NULL,
    source           TEXT NOT NULL,
    rules_version    TEXT NOT NULL,
    reference_scheme TEXT,
    checked_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (partition_date, source)
);
