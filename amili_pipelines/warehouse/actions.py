"""The case-actions aggregate: what the creditor's books report back to Amili, exactly once."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from amili_pipelines.domain.case_actions import (
    ActionEvent,
    ActionState,
    CaseAction,
    CaseActionRecord,
    NewCaseAction,
    SourceView,
)


class ActionStore(Protocol):
    def source_views(self, *, news_only: bool = False) -> list[SourceView]:
        """Registered invoices with an open case, next to their source's current view. With
        ``news_only``, just those with something to report: gone from the source or cancelled there
        (and no cancellation reported yet), or reduced there by more than Amili collected and was told."""

    def add(self, actions: Sequence[NewCaseAction], *, detail: str | None = None) -> list[str]:
        """Write new actions as pending; keys already present are left alone. Returns the new keys.
        ``detail`` (the first event's text) says where they came from; default: what the source shows."""

    def in_states(self, states: Sequence[ActionState], *, market: str,
                  keys: Collection[str] | None = None) -> list[CaseAction]:
        """Actions of a market in the given states, oldest first; with ``keys`` only those."""

    def for_invoice(self, invoice_key: str) -> list[CaseActionRecord]:
        """Every action of one invoice, whatever its state, oldest first."""

    def events(self, key: str) -> list[ActionEvent]:
        """(when, from state, to state, detail) of one action, oldest first."""

    def count_attempt(self, key: str) -> None: ...

    def note_error(self, key: str, error: str) -> None: ...

    def set_state(self, key: str, to_state: ActionState, *, detail: str | None = None, **columns: Any) -> None:
        """Move an action to ``to_state``, recording the event and any of remote_id, batch_id,
        result_status, result_json, last_error, sent_at."""
