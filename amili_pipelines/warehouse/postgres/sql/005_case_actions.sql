-- "Back to Amili": what the creditor's own system says happened to a registered invoice
-- (paid directly, credited, cancelled), reported to Amili exactly once. Same guarantees as the
-- registration outbox: a deterministic idempotency key per action, the intent written before the
-- request leaves, and an outcome we could not observe resolved by a lookup before resending.
CREATE TABLE case_actions_outbox (
    action_key       TEXT NOT NULL PRIMARY KEY,  -- idempotency_key(creditor, invoice_number, market, purpose)
    market           TEXT NOT NULL,              -- SE | NO
    invoice_key      TEXT NOT NULL,
    creditor         TEXT NOT NULL,
    invoice_number   TEXT NOT NULL,
    case_id          TEXT,
    amili_invoice_id TEXT,                       -- NO invoiceId
    action           TEXT NOT NULL,              -- payment | crediting | cancellation
    purpose          TEXT NOT NULL,              -- e.g. payment:125.00:2026-01-31
    amount           NUMERIC(18, 2),                -- NULL for cancellations
    currency         TEXT,
    action_date      DATE NOT NULL,                 -- when the source showed the change
    state            TEXT NOT NULL,              -- pending | in_flight | waiting_for_batch | sent | rejected | unknown_outcome
    attempts         INTEGER NOT NULL DEFAULT 0,
    remote_id        TEXT,                       -- SE creditor--payments/--creditings/--cancellations _id
    batch_id         TEXT,                       -- NO payment/correction batch id
    result_status    TEXT,                       -- SE completed | warning | error; NO batch status
    result_json      JSON,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP
);

CREATE TABLE case_action_events (
    id          BIGSERIAL PRIMARY KEY,
    event_at    TIMESTAMP NOT NULL,
    action_key  TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    detail      TEXT
);
