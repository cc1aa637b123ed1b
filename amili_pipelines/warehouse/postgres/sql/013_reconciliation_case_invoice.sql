-- The invoice Amili's case names, where it is not the invoice we registered under that case id
-- (NULL otherwise). Same change as the DuckDB migration; an incremental two-cases check looks rows
-- up by it, so it is indexed like invoice_key.
ALTER TABLE reconciliation_cases ADD COLUMN case_invoice_key TEXT;
CREATE INDEX reconciliation_cases_case_invoice ON reconciliation_cases (market, case_invoice_key);
