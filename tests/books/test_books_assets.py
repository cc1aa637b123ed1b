"""The books assets run at the end of the follow-up job: files next to the analysts' database, the report's
figures in the Dagster UI as markdown with a link, and nothing written into the project's data/ folder."""

from __future__ import annotations

import pytest

from amili_pipelines.settings import PROJECT_ROOT
from tests.support import followup as fs

pytestmark = pytest.mark.integration


def test_the_followup_job_writes_the_books_and_shows_the_report(followup, monkeypatch):
    demo_data = PROJECT_ROOT / "data"
    before = sorted(demo_data.rglob("*")) if demo_data.exists() else []
    outcome = fs.populated(followup, monkeypatch, se=6, no=4, days=120)
    erp = outcome.metadata["books/erp_feedback_files"]
    assert erp["new_demo_se_handed_over"] == 6 and erp["new_demo_no_handed_over"] == 4
    assert (followup.books_dir / "demo-se" / "erp" / "manifest.json").exists()
    assert outcome.metadata["books/ledger_files"]["files_total"] >= 1
    assert len(str(outcome.metadata["books/controller_workbooks"]["files"]).split("\n")) == 4
    report = outcome.metadata["books/report"]
    assert report["latest"] == str(followup.reports_dir / "latest.html")
    assert "**Report**" in report["summary"] and "Ageing of open claims" in report["summary"]
    assert (followup.reports_dir / "latest.html").read_text(encoding="utf-8").count("<svg") >= 4
    after = sorted(demo_data.rglob("*")) if demo_data.exists() else []
    assert after == before, "tests never write the demo's data/ folder"
