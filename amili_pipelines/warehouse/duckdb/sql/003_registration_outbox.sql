-- The registration outbox: one row per invoice and market, the single source of truth for
-- "has this invoice been handed to Amili". Intent (in_flight) is written before a request
-- leaves; an outcome we could not observe (unknown_outcome) is resolved by looking the invoice
-- up at Amili before anything is sent again.
CREATE TABLE registration_outbox (
    market           VARCHAR NOT NULL,          -- SE | NO
    invoice_key      VARCHAR NOT NULL,          -- creditor/invoice_number
    creditor         VARCHAR NOT NULL,
    invoice_number   VARCHAR NOT NULL,
    idempotency_key  VARCHAR NOT NULL UNIQUE,   -- sha256(register|market|creditor|invoice_number)
    state            VARCHAR NOT NULL,          -- pending | in_flight | waiting_for_batch | registered | rejected | unknown_outcome
    content_hash     VARCHAR,                   -- of the source row that was (or will be) sent
    payload_json     JSON NOT NULL,             -- the request body (or batch item) to send
    claimed_amount   DECIMAL(18, 2),
    currency         VARCHAR,
    attempts         INTEGER NOT NULL DEFAULT 0,
    batch_key        VARCHAR,                   -- Norway: IdempotencyKey of the batch it went in
    batch_id         VARCHAR,                   -- Norway: batch id returned by Amili
    registration_id  VARCHAR,                   -- Sweden: invoice--registration _id
    case_id          VARCHAR,
    amili_invoice_id VARCHAR,
    ocr_number       VARCHAR,
    rejection_json   JSON,                      -- the API's own issues when it rejected the invoice
    last_error       VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    registered_at    TIMESTAMP,
    PRIMARY KEY (market, invoice_key)
);

-- Append-only history of every state change, for audit and for run metadata.
CREATE TABLE registration_events (
    occurred_at  TIMESTAMP NOT NULL,
    run_id       VARCHAR,
    market       VARCHAR NOT NULL,
    invoice_key  VARCHAR NOT NULL,
    from_state   VARCHAR,
    to_state     VARCHAR NOT NULL,
    detail       VARCHAR
);

-- Every registration Amili reports for an invoice (from responses and lookups). More than one
-- row per invoice means the debtor is chased twice: an asset check fails on it.
CREATE TABLE amili_registrations_seen (
    market          VARCHAR NOT NULL,
    invoice_key     VARCHAR NOT NULL,
    case_id         VARCHAR NOT NULL,
    registration_id VARCHAR,
    seen_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (market, invoice_key, case_id)
);

CREATE VIEW registrations AS
SELECT invoice_key, market, creditor, invoice_number, case_id, amili_invoice_id AS invoice_id,
       ocr_number, registration_id, batch_id, registered_at
FROM registration_outbox WHERE state = 'registered';

CREATE VIEW rejections AS
SELECT invoice_key, market, creditor, invoice_number, rejection_json, last_error, updated_at
FROM registration_outbox WHERE state = 'rejected';
