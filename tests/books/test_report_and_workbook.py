"""The report in a real browser (Debian's Chromium, installed by the fixture when missing) and the
controllers' workbook in a spreadsheet reader: charts and sheets present, nothing fetched, nothing unmasked."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import openpyxl
import pytest

from amili_pipelines.books import write_erp_feedback, write_ledger, write_report, write_workbooks
from amili_pipelines.books.report import LATEST
from amili_pipelines.domain.books import AGEING_BUCKETS
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs
from tests.support.packages import ensure_installed

pytestmark = pytest.mark.integration
PINS = fs.SE_PINS + fs.NO_PINS


def _chromium() -> str:
    """Debian's Chromium; apt-get installs it when missing (a fresh CI machine), as PostgreSQL is."""
    return ensure_installed(lambda: shutil.which("chromium") or shutil.which("chromium-browser"), "chromium")


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


def _books(followed):
    with open_warehouse(followed.db) as wh:
        write_erp_feedback(wh, creditors=followed.creditors, books_dir=followed.books, day=followed.day)
        write_ledger(wh, creditors=followed.creditors, books_dir=followed.books, day=followed.day)
        workbooks = write_workbooks(wh, creditors=followed.creditors, books_dir=followed.books, as_of=followed.day)
        report = write_report(wh, creditors=followed.creditors, reports_dir=followed.reports,
                              books_dir=followed.books, as_of=followed.day)
    return workbooks, report


def test_the_report_opens_in_a_browser_with_its_charts_and_fetches_nothing(followed, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    _, report = _books(followed)
    latest = followed.reports / LATEST
    html = latest.read_text(encoding="utf-8")
    assert Path(report.path).read_text(encoding="utf-8") == html
    assert "Content-Security-Policy" in html and "<script" not in html
    assert not re.search(r"(src|href)=\"https?:", html), "nothing from the network"
    assert not any(pin in html or pin.replace("-", "") in html for pin in PINS), "identity numbers masked"
    assert "**Report**" in report.markdown and "█" in report.markdown

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15_000)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(latest.as_uri(), wait_until="load")
            charts = page.locator("figure[data-chart] svg")
            assert charts.count() == 4
            for i in range(4):
                box = charts.nth(i).bounding_box()
                assert box and box["width"] > 200 and box["height"] > 100, f"chart {i} is drawn"
            assert page.locator("h2#ageing").count() == 1
            buckets = page.locator("figure[data-chart=ageing] + details table").text_content() or ""
            # (these cases came without a source extract, so without a due date: "unknown")
            assert any(name in buckets for name in [n for n, _ in AGEING_BUCKETS] + ["unknown"]), buckets[:300]
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 50_000
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == [], "no network requests"


def test_the_controllers_workbook_is_formatted_and_masked(followed):
    workbooks, _ = _books(followed)
    path = followed.books / "demo-se" / "workbooks" / f"demo-se_{followed.day:%Y-%m}.xlsx"
    assert str(path) in workbooks.files
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Per month", "Reconciliation", "Open cases", "Payouts", "Discrepancies"]
    recon = wb["Reconciliation"]
    assert recon.freeze_panes == "A4" and recon.auto_filter.ref.startswith("A3:")
    header = [c.value for c in recon[3]]
    claimed = header.index("claimed capital") + 1
    assert recon.max_row - 3 == 16 and recon.cell(row=4, column=claimed).number_format == '#,##0.00 "kr"'
    open_cases = wb["Open cases"]
    header = [c.value for c in open_cases[3]]
    ids = [open_cases.cell(row=r, column=header.index("customer id number") + 1).value
           for r in range(4, open_cases.max_row + 1)]
    assert ids and all(v is None or "*" in v for v in ids)
    buckets = {open_cases.cell(row=r, column=1).value for r in range(4, open_cases.max_row + 1)}
    assert buckets <= {name for name, _ in AGEING_BUCKETS} | {"unknown"}
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                assert not (isinstance(v, str) and any(pin in v for pin in PINS)), (ws.title, v)
    year = openpyxl.load_workbook(followed.books / "demo-se" / "workbooks" / f"demo-se_{followed.day:%Y}.xlsx")
    assert year["Payouts"].max_row > 3
