-- Operator actions (retry a registration; withdraw, pause or resume a case): who asked for what,
-- why, and what Amili answered. One row per invoice per action, written as 'requested' before
-- anything is sent and completed afterwards; never updated otherwise, never deleted.
CREATE TABLE operator_audit (
    audit_id      VARCHAR NOT NULL PRIMARY KEY,  -- uuid
    requested_at  TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    actor         VARCHAR NOT NULL,              -- the OS user (CLI) or the Dagster run's user
    via           VARCHAR NOT NULL,              -- cli | dagster
    run_id        VARCHAR,                       -- the Dagster run that carried the action
    action        VARCHAR NOT NULL,              -- retry | withdraw | pause | resume
    market        VARCHAR,                       -- SE | NO
    invoice_key   VARCHAR NOT NULL,
    case_id       VARCHAR,
    reason        VARCHAR NOT NULL,              -- why, in the operator's words (required)
    request       VARCHAR,                       -- the command as given: selection and options
    subject_key   VARCHAR,                       -- the registration or case-action key it went through
    outcome       VARCHAR NOT NULL,              -- requested | nothing_to_do | the outbox / case-action state reached
    answer        VARCHAR                        -- Amili's answer, identity numbers masked
);

-- A rejected invoice queued again (its source fixed, or an operator's retry) is a new generation:
-- Norway's batch IdempotencyKey includes it, so Amili does not just return the old, failed batch.
ALTER TABLE registration_outbox ADD COLUMN generation INTEGER DEFAULT 0;
