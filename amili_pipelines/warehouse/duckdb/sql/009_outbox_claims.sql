-- Which run holds an outbox row, until when. The embedded file has one writer at a time, so any
-- claim found there belongs to a run that is gone; the columns exist so that both stores answer
-- the same contract (PostgreSQL's runs claim rows concurrently).
ALTER TABLE registration_outbox ADD COLUMN claimed_by VARCHAR;
ALTER TABLE registration_outbox ADD COLUMN lease_until TIMESTAMP;
