-- Following every case until the money is home: cases, settlement lines, payouts, reconciliation.
-- All writes are idempotent upserts keyed by the API's own ids (see the DuckDB migration).

-- One row per Amili case (both markets), as last seen at the API.
CREATE TABLE cases (
    market              TEXT NOT NULL,       -- SE | NO
    case_id             TEXT NOT NULL,       -- SE case ObjectId | NO caseId (uuid)
    case_number         TEXT,                -- NO caseNumber; SE reference_number (OCR)
    creditor            TEXT,                -- our creditor key (creditors file)
    amili_creditor      TEXT,                -- SE creditor ObjectId | NO organization id
    invoice_key         TEXT,                -- creditor/invoice_number; NULL when no outbox row matches
    invoice_number      TEXT,
    amili_invoice_id    TEXT,                -- NO invoiceId
    currency            TEXT,
    state               TEXT,                -- SE state (invoice, reminder, debt_collection, closed) | NO type
    status              TEXT,                -- SE status | NO status (OPEN, PAUSED, WITHDRAWN, CLOSED)
    is_closed           BOOLEAN NOT NULL,
    closed_reason       TEXT,                -- paid | credited | cancelled | withdrawn | closed
    closed_at           TIMESTAMP,
    claimed_capital     NUMERIC(18, 2),         -- the capital Amili holds as claimed (SE initial capital, NO original amount)
    remaining_capital   NUMERIC(18, 2),
    remaining_interest  NUMERIC(18, 2),
    remaining_fees      NUMERIC(18, 2),
    remaining_total     NUMERIC(18, 2),
    added_interest      NUMERIC(18, 2),
    added_fees          NUMERIC(18, 2),
    paid_amount         NUMERIC(18, 2),         -- NO invoice paidAmount (as reported by Amili)
    credited_amount     NUMERIC(18, 2),         -- NO invoice creditedAmount
    customer_name       TEXT,
    customer_id_number  TEXT,                -- personal identity number: masked when published
    registered_at       TIMESTAMP,
    api_updated_at      TIMESTAMP,              -- SE _updated | NO registeredAt/closedAt
    first_seen_at       TIMESTAMP NOT NULL,
    last_seen_at        TIMESTAMP NOT NULL,
    raw_json            JSON,
    PRIMARY KEY (market, case_id)
);

-- One normalized row per money line Amili reports: a Norwegian settlement or a Swedish payout
-- specification line. Amounts are in the case currency; commission and VAT are what Amili kept
-- (positive numbers), payout_amount is what reaches the creditor for this line.
CREATE TABLE settlement_lines (
    market              TEXT NOT NULL,
    line_id             TEXT NOT NULL,       -- NO settlementId | SE payout specification _id
    source              TEXT NOT NULL,       -- no_settlement | se_payout_specification
    case_id             TEXT,                -- resolved case id (NULL = unknown case)
    case_number         TEXT,
    invoice_number      TEXT,
    amili_invoice_id    TEXT,
    amili_creditor      TEXT,
    creditor            TEXT,
    invoice_key         TEXT,
    currency            TEXT,
    settlement_date     DATE,                   -- NO settlementDate | SE booking_date
    article             TEXT,                -- SE article | NO collectionType
    finance_category    TEXT,                -- SE finance_category
    principal_amount    NUMERIC(18, 2) NOT NULL,
    interest_amount     NUMERIC(18, 2) NOT NULL,
    fee_amount          NUMERIC(18, 2) NOT NULL,
    commission_amount   NUMERIC(18, 2) NOT NULL,
    vat_amount          NUMERIC(18, 2) NOT NULL,
    payout_amount       NUMERIC(18, 2) NOT NULL,
    payout_id           TEXT,                -- SE payout _id once scheduled
    payout_date         DATE,
    payout_reference    TEXT,
    api_updated_at      TIMESTAMP,
    first_seen_at       TIMESTAMP NOT NULL,
    last_seen_at        TIMESTAMP NOT NULL,
    raw_json            JSON,
    PRIMARY KEY (market, line_id)
);

-- Swedish payouts: the bank transfers that carry the specification lines.
CREATE TABLE payouts (
    market              TEXT NOT NULL,
    payout_id           TEXT NOT NULL,
    amili_creditor      TEXT,
    creditor            TEXT,
    currency            TEXT,
    amount              NUMERIC(18, 2),
    vat_amount          NUMERIC(18, 2),
    total_amount        NUMERIC(18, 2),
    status              TEXT,                -- scheduled | paid
    payout_date         DATE,
    payout_reference    TEXT,
    finance_interval    TEXT,
    summary_json        JSON,
    api_updated_at      TIMESTAMP,
    first_seen_at       TIMESTAMP NOT NULL,
    last_seen_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (market, payout_id)
);

-- Reconciliation per case, as of the last reconcile() run (rewritten as a whole each time).
CREATE TABLE reconciliation (
    as_of               DATE NOT NULL,
    market              TEXT NOT NULL,
    case_id             TEXT NOT NULL,
    creditor            TEXT,
    invoice_key         TEXT,
    invoice_number      TEXT,
    currency            TEXT,
    claimed_capital     NUMERIC(18, 2) NOT NULL,  -- what we handed to Amili
    paid_principal      NUMERIC(18, 2) NOT NULL,  -- capital collected and settled by Amili
    paid_interest       NUMERIC(18, 2) NOT NULL,
    paid_fees           NUMERIC(18, 2) NOT NULL,
    commission          NUMERIC(18, 2) NOT NULL,
    vat                 NUMERIC(18, 2) NOT NULL,
    paid_out            NUMERIC(18, 2) NOT NULL,  -- what reached (or is scheduled to reach) the creditor
    paid_direct         NUMERIC(18, 2) NOT NULL,  -- debtor paid the creditor directly (reported back)
    credited            NUMERIC(18, 2) NOT NULL,  -- credited by the creditor (reported back)
    cancelled           NUMERIC(18, 2) NOT NULL,  -- capital written off by cancellation / withdrawal
    remaining_capital   NUMERIC(18, 2) NOT NULL,  -- capital Amili still chases
    amili_remaining_capital NUMERIC(18, 2),       -- Amili's own figure, for comparison
    case_state          TEXT,
    is_closed           BOOLEAN NOT NULL,
    closed_reason       TEXT,
    status              TEXT NOT NULL,         -- open | partly_paid | settled | closed_without_payment
    discrepancy_count   INTEGER NOT NULL,
    PRIMARY KEY (market, case_id)
);

-- What does not add up, one row per finding, as of the last reconcile() run.
CREATE TABLE reconciliation_discrepancies (
    as_of               DATE NOT NULL,
    market              TEXT NOT NULL,
    reason              TEXT NOT NULL,       -- paid_out_exceeds_claimed | settlement_for_unknown_case |
                                                -- closed_but_source_unpaid | amounts_do_not_match_case |
                                                -- invoice_with_two_cases
    severity            TEXT NOT NULL,       -- error (money is wrong) | warning (needs a look)
    case_id             TEXT,
    invoice_key         TEXT,
    creditor            TEXT,
    line_id             TEXT,
    amount              NUMERIC(18, 2),
    detail              TEXT NOT NULL
);

-- Money per creditor and month of settlement.
CREATE VIEW reconciliation_by_creditor_period AS
SELECT market, creditor, currency,
       date_trunc('month', settlement_date)::DATE AS period,
       count(DISTINCT case_id) AS cases,
       sum(principal_amount) AS paid_principal,
       sum(interest_amount) AS paid_interest,
       sum(fee_amount) AS paid_fees,
       sum(commission_amount) AS commission,
       sum(vat_amount) AS vat,
       sum(payout_amount) AS paid_out
FROM settlement_lines
GROUP BY market, creditor, currency, date_trunc('month', settlement_date)::DATE;

-- Totals per creditor as of the last reconcile() run.
CREATE VIEW reconciliation_by_creditor AS
SELECT as_of, market, creditor, currency,
       count(*) AS cases,
       count(*) FILTER (WHERE status = 'open') AS open,
       count(*) FILTER (WHERE status = 'partly_paid') AS partly_paid,
       count(*) FILTER (WHERE status = 'settled') AS settled,
       count(*) FILTER (WHERE status = 'closed_without_payment') AS closed_without_payment,
       sum(claimed_capital) AS claimed_capital,
       sum(paid_principal) AS paid_principal,
       sum(paid_interest) AS paid_interest,
       sum(paid_fees) AS paid_fees,
       sum(commission) AS commission,
       sum(vat) AS vat,
       sum(paid_out) AS paid_out,
       sum(paid_direct) AS paid_direct,
       sum(credited) AS credited,
       sum(cancelled) AS cancelled,
       sum(remaining_capital) AS remaining_capital
FROM reconciliation
GROUP BY as_of, market, creditor, currency;
