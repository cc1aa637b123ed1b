-- The registration outbox (see the DuckDB migration for the states and guarantees).
CREATE TABLE registration_outbox (
    market           TEXT NOT NULL,
    invoice_key      TEXT NOT NULL,
    creditor         TEXT NOT NULL,
    invoice_number   TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    state            TEXT NOT NULL,
    content_hash     TEXT,
    payload_json     JSON NOT NULL,
    claimed_amount   NUMERIC(18, 2),
    currency         TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    batch_key        TEXT,
    batch_id         TEXT,
    registration_id  TEXT,
    case_id          TEXT,
    amili_invoice_id TEXT,
    ocr_number       TEXT,
    rejection_json   JSON,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    registered_at    TIMESTAMP,
    PRIMARY KEY (market, invoice_key)
);
CREATE INDEX registration_outbox_state ON registration_outbox (market, state, invoice_key);
CREATE INDEX registration_outbox_case ON registration_outbox (market, case_id);

CREATE TABLE registration_events (
    id           BIGSERIAL PRIMARY KEY,
    occurred_at  TIMESTAMP NOT NULL,
    run_id       TEXT,
    market       TEXT NOT NULL,
    invoice_key  TEXT NOT NULL,
    from_state   TEXT,
    to_state     TEXT NOT NULL,
    detail       TEXT
);
CREATE INDEX registration_events_key ON registration_events (market, invoice_key);

CREATE TABLE amili_registrations_seen (
    market          TEXT NOT NULL,
    invoice_key     TEXT NOT NULL,
    case_id         TEXT NOT NULL,
    registration_id TEXT,
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
