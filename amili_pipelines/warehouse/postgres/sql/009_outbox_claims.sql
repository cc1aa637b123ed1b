-- Which run holds an outbox row, until when: several runs register at once. A run claims rows
-- with FOR UPDATE SKIP LOCKED and a lease; a claim whose lease passed belongs to a run that died,
-- and another run takes it over (an in-flight row is looked up at Amili before any resend).
ALTER TABLE registration_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE registration_outbox ADD COLUMN lease_until TIMESTAMP;
CREATE INDEX registration_outbox_claims ON registration_outbox (claimed_by);
