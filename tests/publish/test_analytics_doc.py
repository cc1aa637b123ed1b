"""Every SQL example in docs/analytics.md runs against a published file with real data."""

from __future__ import annotations

import re

import duckdb
import followup_support as fs
import pytest

from amili_pipelines.config import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "analytics.md"


def sql_blocks() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_doc_has_examples():
    assert len(sql_blocks()) >= 8


@pytest.mark.integration
def test_every_sql_block_in_the_analytics_doc_runs(followup):
    fs.populated(followup, se=8, no=6, days=100)
    con = duckdb.connect(str(followup.analytics_path), read_only=True)
    try:
        for block in sql_blocks():
            rows = con.execute(block).fetchall()
            assert isinstance(rows, list), block
        # the ones about money return something with this data
        assert con.execute(sql_blocks()[0]).fetchall()
    finally:
        con.close()
