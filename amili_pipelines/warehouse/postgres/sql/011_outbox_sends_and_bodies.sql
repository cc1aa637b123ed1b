-- Sending at speed (see the DuckDB migration of the same number): the request body stored as it goes on
-- the wire, and a per-row send counter instead of counting in_flight events.
ALTER TABLE registration_outbox ADD COLUMN payload_is_body BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE registration_outbox ADD COLUMN sends INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registration_outbox ADD COLUMN last_sent_at TIMESTAMP;
