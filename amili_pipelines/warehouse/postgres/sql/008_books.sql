-- Closing the books: what the creditor's ERP and ledger were told, each fact once.
--
-- A fact (an invoice handed over, money paid out for a case, a case closed unpaid, an action sent,
-- a payout's verification) is assigned to one file the first time it is exported: the creditor, the
-- kind of file, the export day and the batch of that day. The row is kept as exported, so a file is
-- rebuilt byte for byte from here however often the day is run again, and a fact never appears in
-- two files (an ERP that imports every file books nothing twice).
CREATE TABLE books_exports (
    creditor     TEXT NOT NULL,
    kind         TEXT NOT NULL,   -- handed_over | payments | closed_without_payment | creditor_actions | verification
    item_key     TEXT NOT NULL,   -- the fact's own id (market + Amili's or our key)
    export_day   DATE NOT NULL,      -- the business day whose files carry it
    batch        INTEGER NOT NULL,   -- 1, 2, ...: a later run of the same day with news writes a new file
    position     INTEGER NOT NULL,   -- order within the file
    row_json     JSON NOT NULL,      -- the row (or verification) exactly as exported
    exported_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (creditor, kind, item_key)
);

-- Every settlement / payout-specification line booked in a verification: a line is booked once.
CREATE TABLE books_booked_lines (
    market            TEXT NOT NULL,
    line_id           TEXT NOT NULL,
    creditor          TEXT NOT NULL,
    verification_key  TEXT NOT NULL,
    PRIMARY KEY (market, line_id)
);
