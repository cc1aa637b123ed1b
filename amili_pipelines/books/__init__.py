"""Closing the books: what the creditor's ERP and ledger need back, and reports people look at.

* :func:`write_erp_feedback` (``erp.py``): ERP feedback files per creditor and day, each fact once.
* :func:`write_ledger` (``journal.py``, ``sie.py``): one verification per Amili payout; SIE 4I for
  Sweden, the same journal as CSV/Excel for Norway.
* :func:`write_workbooks` (``workbook.py``): the controllers' Excel workbook per creditor and period.
* :func:`write_report` (``report.py``, ``charts.py``): the self-contained HTML report with charts.
"""

from amili_pipelines.books.erp import FeedbackSummary, write_erp_feedback
from amili_pipelines.books.journal import LedgerSummary, write_ledger
from amili_pipelines.books.report import ReportSummary, write_report
from amili_pipelines.books.workbook import BadPeriod, WorkbookSummary, write_workbooks

__all__ = ["BadPeriod", "FeedbackSummary", "LedgerSummary", "ReportSummary", "WorkbookSummary", "write_erp_feedback",
           "write_ledger", "write_report", "write_workbooks"]
