"""SIE fields that come from the creditors file: an account or an organisation number written so
that the file cannot be misread, or refused when the configuration is loaded."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from amili_pipelines.books.sie import sie_bytes
from amili_pipelines.domain.books import LedgerConfig
from amili_pipelines.domain.creditors import CreditorConfig
from amili_pipelines.domain.invoice import Market
from tests.support.sie import read_sie


def test_an_organisation_number_written_with_a_space_is_one_field(tmp_path):
    creditor = CreditorConfig(key="demo-se", name="Åkeri \"Öst\" AB", market=Market.SE, account_id="a",
                              creditor_id="c", books={"ledger": {"organization_number": "556677 8899"}})
    v = {"date": "2026-06-03", "text": "Amili utbetalning PO-1\r\n#VER", "transactions": [["1930", "10.00"],
                                                                                       ["1510", "-10.00"]]}
    path = tmp_path / "x.si"
    path.write_bytes(sie_bytes(creditor, [v], export_day=date(2026, 6, 10), batch=1))
    sie = read_sie(path)
    assert sie.first("#ORGNR") == ["556677 8899"]
    assert sie.first("#FNAMN") == ['Åkeri "Öst" AB']
    assert len(sie.verifications) == 1 and sie.verifications[0].balance == 0


@pytest.mark.parametrize("account", ["19 30", "1930\"", "", "19{30}"])
def test_an_account_that_is_not_a_number_is_refused_when_the_creditors_file_is_read(account):
    with pytest.raises(ValidationError):
        LedgerConfig(accounts={"bank": account})
