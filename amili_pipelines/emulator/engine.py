"""The emulator's engine: the state plus one entry point per business operation, for both markets.

No HTTP here, and (nearly) no behaviour either: each method hands over to the module that owns the
resource (``sweden/…``, ``norway/…``, ``lifecycle``, ``due_work``, ``persistence``). The engine exists so
that HTTP handlers, the background tick and in-process tests share one object and one lock, and so tests
can drive a market without a server::

    engine = Engine(config)
    engine.se_register_invoice(body, account)
    engine.advance(30 * 86400)

It also wires each market's :class:`~.lifecycle.MarketFlow` into the state, which keeps the
market-neutral lifecycle free of imports from the market packages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import due_work, lifecycle, persistence
from .config import EmulatorConfig
from .ledger import Ledger
from .norway import auth as no_auth
from .norway import batches as no_batches
from .norway import cases as no_cases
from .state import EmulatorState
from .sweden import auth as se_auth
from .sweden import case_registrations as se_case_registrations
from .sweden import cases as se_cases
from .sweden import creditor_actions as se_creditor_actions
from .sweden import creditors as se_creditors
from .sweden import invoice_registrations as se_invoice_registrations

Result = tuple[int, dict[str, Any]]


class Engine(EmulatorState):
    def __init__(self, config: EmulatorConfig | None = None) -> None:
        super().__init__(config)
        self.flows = {"se": se_cases.SwedishCaseFlow(self), "no": no_cases.NorwegianCaseFlow(self)}

    def reset(self) -> None:
        """Empty state with the configured Swedish creditors re-created."""
        with self.lock:
            super().reset()
            se_creditors.seed_configured_creditors(self, self.clock.now())
            self.dirty = True

    # ------------------------------------------------------------------ tokens (both markets)
    # Handlers call these through the engine (not the auth modules), so tests can wrap them.
    def se_issue_token(self, account: str) -> tuple[str, datetime]:
        return se_auth.issue_token(self, account)

    def se_account_for_token(self, token: str | None) -> str | None:
        return se_auth.account_for_token(self, token)

    def no_issue_token(self, client_id: str) -> tuple[str, int, int]:
        return no_auth.issue_token(self, client_id)

    def no_client_for_token(self, token: str | None) -> str | None:
        return no_auth.client_for_token(self, token)

    # ------------------------------------------------------------------ Sweden
    def se_register_invoice(self, body: Any, account: str, dry_run: bool = False) -> Result:
        return se_invoice_registrations.register_invoice(self, body, account, dry_run)

    def se_register_cases(self, body: Any, account: str, dry_run: bool = False) -> Result:
        return se_case_registrations.register_cases(self, body, account, dry_run)

    def se_creditor_action(self, kind: str, body: Any, account: str, dry_run: bool = False) -> Result:
        return se_creditor_actions.creditor_action(self, kind, body, account, dry_run)

    def se_respite(self, case_id: str, body: Any, account: str) -> Result:
        return se_cases.grant_respite(self, case_id, body, account)

    def se_create_creditor(self, body: Any, account: str, dry_run: bool = False) -> Result:
        return se_creditors.create_creditor(self, body, account, dry_run)

    def se_patch_creditor(self, cid: str, body: Any, account: str, if_match: str | None,
                          delete: bool = False) -> tuple[int, dict[str, Any] | None]:
        return se_creditors.change_creditor(self, cid, body, account, if_match, delete)

    # ------------------------------------------------------------------ Norway
    def no_org(self, org: str) -> dict[str, Any] | None:
        return no_auth.organization(self, org)

    def no_create_batch(self, org: str, client_id: str, kind: str, items: list[Any], idem_key: str | None,
                        base_url: str) -> dict[str, Any]:
        return no_batches.create_batch(self, org, client_id, kind, items, idem_key, base_url)

    def no_case_action(self, org: str, case_id: str, action: str, by_invoice: bool = False) -> tuple[int, str | None]:
        return no_cases.case_action(self, org, case_id, action, by_invoice)

    def reset_fault_rng(self) -> None:
        no_batches.reset_item_fault_rng(self)

    # ------------------------------------------------------------------ time
    def advance(self, seconds: float) -> datetime:
        return due_work.advance(self, seconds)

    def process(self) -> None:
        due_work.process(self)

    def reschedule(self) -> None:
        lifecycle.reschedule(self)

    def debtor_pays_agency(self, led: Ledger, amount: int, at: float, now: datetime) -> None:
        lifecycle.debtor_pays_agency(self, led, amount, at, now)

    # ------------------------------------------------------------------ persistence / inspection
    def snapshot(self) -> dict[str, Any]:
        return persistence.snapshot(self)

    def state_dump(self) -> dict[str, Any]:
        return persistence.state_dump(self)

    def to_json(self) -> dict[str, Any]:
        return persistence.to_json(self)

    def load_json(self, data: dict[str, Any]) -> None:
        persistence.load_json(self, data)
