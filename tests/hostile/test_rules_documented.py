"""Every rule and every structural error is in the sources README, with an example message."""

from __future__ import annotations

import re

from amili_pipelines.domain.validation import RULES
from amili_pipelines.settings import PROJECT_ROOT
from tests.hostile.cases import all_cases

README = (PROJECT_ROOT / "amili_pipelines" / "sources" / "README.md").read_text(encoding="utf-8")


def test_every_rule_has_a_row_with_its_severity_and_an_example() -> None:
    rows = {m.group(1): (m.group(2), m.group(3), m.group(4)) for m in re.finditer(
        r"^\| `([a-z0-9_.]+)` \| (error|warning) \| (.+?) \| (.+) \|$", README, flags=re.M)}
    assert set(rows) == set(RULES), set(RULES) ^ set(rows)
    for rule_id, (severity, checks, example) in rows.items():
        assert severity == RULES[rule_id].severity.value, rule_id
        assert checks == RULES[rule_id].checks, rule_id
        assert len(example) > 20 and ("row" in example or ".xml" in example), (rule_id, example)


def test_every_structural_error_the_suite_meets_is_documented_with_its_message() -> None:
    for case in all_cases():
        if case.expect.outcome == "source_error":
            assert case.expect.text in README, (case.id, case.expect.text)
