"""The business vocabulary: invoices as sources produce them, issues found on them, identity masking.

Pure data and rules; no I/O (see ARCHITECTURE.md, layer "domain").
"""
