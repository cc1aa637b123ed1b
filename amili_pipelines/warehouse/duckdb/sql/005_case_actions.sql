-- "Back to Amili": what the creditor's own system says happened to a registered invoice
-- (paid directly, credited, cancelled), reported to Amili exactly once. Same guarantees as the
-- registration outbox: a deterministic idempotency key per action, the intent written before the
-- request leaves, and an outcome we could not observe resolved by a lookup before resending.
CREATE TABLE case_actions_outbox (
    action_key       VARCHAR NOT NULL PRIMARY KEY,  -- idempotency_key(creditor, invoice_number, market, purpose)
    market           VARCHAR NOT NULL,              -- SE | NO
    invoice_key      VARCHAR NOT NULL,
    creditor         VARCHAR NOT NULL,
    invoice_number   VARCHAR NOT NULL,
    case_id          VARCHAR,
    amili_invoice_id VARCHAR,                       -- NO invoiceId
    action           VARCHAR NOT NULL,              -- payment | crediting | cancellation
    purpose          VARCHAR NOT NULL,              -- e.g. payment:125.00:2026-01-31
    amount           DECIMAL(18, 2),                -- NULL for cancellations
    currency         VARCHAR,
    action_date      DATE NOT NULL,                 -- when the source showed the change
    state            VARCHAR NOT NULL,              -- pending | in_flight | waiting_for_batch | sent | rejected | unknown_outcome
    attempts         INTEGER NOT NULL DEFAULT 0,
    remote_id        VARCHAR,                       -- SE creditor--payments/--creditings/--cancellations _id
    batch_id         VARCHAR,                       -- NO payment/correction batch id
    result_status    VARCHAR,                       -- SE completed | warning | error; NO batch status
    result_json      JSON,
    last_error       VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP
);

CREATE TABLE case_action_events (
    event_at    TIMESTAMP NOT NULL,
    action_key  VARCHAR NOT NULL,
    from_state  VARCHAR,
    to_state    VARCHAR NOT NULL,
    detail      VARCHAR
);
