-- One token bucket per Amili market, shared by every process that sends to it.
CREATE TABLE api_rate_limits (
    key         TEXT PRIMARY KEY,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
