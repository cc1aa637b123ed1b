"""A Norwegian case that leaves the case list is still seen closing.

B.5 does not say whether ``GET /orgs/{org}/cases`` lists closed cases; a server may leave them out
unless asked for a status. Our open cases that the list no longer holds are then read by their id:
otherwise a withdrawn or paid case would stay open in the reconciliation for ever.
The real client against the emulator; only the listing leaves closed cases out, as that server would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation.cases import CaseSyncSummary, sync_cases
from tests.support import followup as fs

CLOSED = {"CLOSED", "WITHDRAWN"}


class _ListsOpenCasesOnly:
    def __init__(self, client: Any) -> None:
        self._client = client

    def iter_cases(self, **kwargs: Any) -> AsyncIterator[Any]:
        async def open_only() -> AsyncIterator[Any]:
            async for case in self._client.iter_cases(**kwargs):
                if (case.status or "").upper() not in CLOSED:
                    yield case
        return open_only()

    async def get_case(self, **kwargs: Any) -> Any:
        return await self._client.get_case(**kwargs)


def _sync(env: fs.FollowupEnv, wh) -> CaseSyncSummary:
    async def run() -> CaseSyncSummary:
        async with fs.no_client(env.emulator) as no:
            return await sync_cases(wh, creditors=env.creditors, no_client=_ListsOpenCasesOnly(no))
    return asyncio.run(run())


def test_an_open_case_missing_from_the_list_is_read_by_its_id_and_seen_closed(followup):
    org = followup.creditors.creditor("demo-no").organization_id
    with fs.open_rw(followup) as wh:
        fs.register(wh, followup.emulator, followup.creditors, fs.make_invoices(Market.NO, 3, prefix="GONE"))
        first = _sync(followup, wh)
        assert (first.no_cases_seen, first.no_cases_read_by_id) == (3, 0)
        case_ids = sorted(wh.cases.open_case_ids("NO", "demo-no"))
        assert len(case_ids) == 3

        async def withdraw() -> None:
            async with fs.no_client(followup.emulator) as no:
                await no.withdraw_case(organization_id=org, case_id=case_ids[0])
        asyncio.run(withdraw())

        later = _sync(followup, wh)
        assert (later.no_cases_seen, later.no_cases_read_by_id, later.not_found) == (2, 1, 0)
        withdrawn = wh.cases.case("NO", case_ids[0])
        assert withdrawn.is_closed and withdrawn.closed_reason == "withdrawn"
        assert wh.cases.open_case_ids("NO", "demo-no") == set(case_ids[1:])

        again = _sync(followup, wh)  # once stored closed, it is not read one by one again
        assert again.no_cases_read_by_id == 0
