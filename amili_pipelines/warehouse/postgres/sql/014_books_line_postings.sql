-- What each verification booked of each money line, amount by amount. Amili may correct a line
-- after it was booked (same line id, other amounts): the books see the difference between what
-- the line says now and what was booked of it, and book that difference in a verification of its
-- own (a ledger is corrected by a new verification, never by changing a booked one). Replaces
-- books_booked_lines, which only knew that a line had been booked.
CREATE TABLE books_line_postings (
    market             TEXT NOT NULL,
    line_id            TEXT NOT NULL,
    creditor           TEXT NOT NULL,
    verification_key   TEXT NOT NULL,
    principal_amount   DECIMAL(18, 2) NOT NULL,
    interest_amount    DECIMAL(18, 2) NOT NULL,
    fee_amount         DECIMAL(18, 2) NOT NULL,   -- fees passed on to the creditor (as booked)
    commission_amount  DECIMAL(18, 2) NOT NULL,
    vat_amount         DECIMAL(18, 2) NOT NULL,
    payout_amount      DECIMAL(18, 2) NOT NULL,
    PRIMARY KEY (market, line_id, verification_key)
);

-- Lines booked before this table existed: booked as they read now (the best knowledge left).
INSERT INTO books_line_postings (market, line_id, creditor, verification_key, principal_amount, interest_amount,
                                 fee_amount, commission_amount, vat_amount, payout_amount)
SELECT b.market, b.line_id, b.creditor, b.verification_key, l.principal_amount, l.interest_amount,
       l.payout_amount - l.principal_amount - l.interest_amount + l.commission_amount + l.vat_amount,
       l.commission_amount, l.vat_amount, l.payout_amount
FROM books_booked_lines b JOIN settlement_lines l ON l.market = b.market AND l.line_id = b.line_id;

DROP TABLE books_booked_lines;
