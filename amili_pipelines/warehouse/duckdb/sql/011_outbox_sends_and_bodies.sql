-- Sending at speed. ``payload_is_body``: payload_json holds the request body exactly as it goes on the
-- wire (Sweden), serialised once when the row was queued, so a send needs no parse, model or dump.
-- Rows queued before this migration keep their payload and are built the old way.
-- ``sends`` / ``last_sent_at``: how often the row was sent in its current window (kept by
-- mark_in_flight, reset by a claim whose window starts after the last send), instead of counting
-- its in_flight events for every row of every claim.
ALTER TABLE registration_outbox ADD COLUMN payload_is_body BOOLEAN DEFAULT false;
ALTER TABLE registration_outbox ADD COLUMN sends INTEGER DEFAULT 0;
ALTER TABLE registration_outbox ADD COLUMN last_sent_at TIMESTAMP;
