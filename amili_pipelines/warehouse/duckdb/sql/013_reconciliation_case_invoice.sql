-- The invoice Amili's case names, where it is not the invoice we registered under that case id
-- (NULL otherwise, so almost always). With it, every (invoice, case) pair the two-cases check needs
-- is in reconciliation_cases itself, and the check no longer groups the cases and outbox tables
-- again. Not shown in the views. The rules' text changes with it, so the next reconciliation is a
-- full rebuild and fills it.
ALTER TABLE reconciliation_cases ADD COLUMN case_invoice_key VARCHAR;
