"""Sources: read a creditor's unpaid invoices from where they live into canonical SourceInvoices."""
