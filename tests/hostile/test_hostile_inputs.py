"""Every hostile case has exactly its expected outcome: accepted, quarantined by rule X at row Y,
a source error naming the file, or a configuration error; never a crash, never a lost record,
never an identity number or a file's raw content in a message."""

from __future__ import annotations

import pytest

from amili_pipelines.warehouse import open_warehouse
from tests.hostile.cases import IDENTITY_NUMBERS, SECRET_CONTENT, Case, all_cases
from tests.hostile.runner import run_case

CASES = all_cases()


def test_the_suite_covers_every_source_kind_and_the_configuration_file() -> None:
    kinds = {c.kind for c in CASES}
    assert kinds == {"csv", "excel", "jsonl", "parquet", "sql", "peppol", "creditors"}
    assert len(CASES) >= 60


def _texts(outcome) -> list[str]:
    texts = [m for _, _, _, m, _ in outcome.issues] + [v or "" for *_, v in outcome.issues]
    if outcome.extract:
        texts += outcome.extract.errors + outcome.extract.warnings
    if outcome.validation:
        texts += list(outcome.validation.examples.values())
    if outcome.config_error:
        texts.append(outcome.config_error)
    return texts


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_case_has_its_exact_outcome(case: Case, tmp_path) -> None:
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        outcome = run_case(case, tmp_path / "case", wh)
    want = case.expect
    for text in _texts(outcome):
        for number in IDENTITY_NUMBERS:
            assert number not in text and number.replace("-", "") not in text, (case.id, text)
        assert SECRET_CONTENT not in text, (case.id, text)
    if want.outcome == "config_error":
        assert outcome.config_error is not None and want.text in outcome.config_error, outcome.config_error
        return
    assert outcome.config_error is None, outcome.config_error
    s, v = outcome.extract, outcome.validation
    # nothing silently dropped: every record read is counted, every extracted invoice judged
    assert s.rows_read == s.extracted + s.skipped_paid + s.skipped_not_due
    assert v.extracted == s.extracted == v.valid + v.quarantined
    if want.outcome == "source_error":
        assert s.files_failed >= 1 and any(want.text in e for e in s.errors), s.errors
        assert v.valid == 0, "nothing of a file with a structural error may be registered"
        return
    assert not s.errors, s.errors
    assert (v.valid, v.quarantined) == (want.valid, want.quarantined), (v.by_rule, outcome.issues)
    if want.outcome in ("quarantined", "warned"):
        severity = "error" if want.outcome == "quarantined" else "warning"
        fired = [(rule, row) for rule, sev, row, _, _ in outcome.issues if sev == severity]
        assert (want.rule, want.row) in fired, outcome.issues
    else:
        assert not [i for i in outcome.issues if i[1] == "error"], outcome.issues
