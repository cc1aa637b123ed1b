"""Closing the books: ERP feedback files, the ledger (SIE / journal), workbooks, the report."""
