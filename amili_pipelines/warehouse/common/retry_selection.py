"""An operator's retry selection as one WHERE clause both outbox stores run (portable SQL).

``strpos`` rather than LIKE: the operator's text is matched literally, so a ``%`` or ``_`` in a
rejection message is not a wildcard.
"""

from __future__ import annotations

from collections.abc import Iterable

from amili_pipelines.domain.operator import RetrySelection
from amili_pipelines.domain.outbox import OutboxState


def _marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


def retry_selection_where(states: Iterable[OutboxState], selection: RetrySelection) -> tuple[str, list]:
    """(``WHERE ...`` over registration_outbox, its parameters) for rows in ``states`` matching ``selection``."""
    values = [s.value for s in states]
    where = f"WHERE state IN ({_marks(len(values))})"
    params: list = list(values)
    if selection.invoice_keys:
        keys = list(selection.invoice_keys)
        where += f" AND invoice_key IN ({_marks(len(keys))})"
        params += keys
    if selection.creditor:
        where += " AND creditor = ?"
        params.append(selection.creditor)
    if selection.message:
        where += (" AND (strpos(lower(coalesce(CAST(rejection_json AS VARCHAR), '')), lower(?)) > 0"
                  " OR strpos(lower(coalesce(last_error, '')), lower(?)) > 0)")
        params += [selection.message, selection.message]
    if selection.answered_from:
        where += " AND CAST(updated_at AS DATE) >= ?"
        params.append(selection.answered_from)
    if selection.answered_until:
        where += " AND CAST(updated_at AS DATE) <= ?"
        params.append(selection.answered_until)
    return where, params
