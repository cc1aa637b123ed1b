"""What a finished run means for a person, read from its assets' metadata (the same everywhere:
the CLI's exit status, the alert sensor, the UI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _n(meta: Mapping[str, Any], key: str) -> int:
    value = meta.get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def needs_attention(metadata: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per thing a person should know or do after a run (empty: nothing).

    ``metadata`` maps asset key (``extract/…``, ``register/…``) to its materialization metadata.
    """
    lines: list[str] = []
    for key, meta in sorted(metadata.items()):
        if key.startswith("extract/") and (_n(meta, "files_failed") or meta.get("source_error")):
            lines.append(f"source {key.split('/', 1)[1]} could not be read: {meta.get('source_error') or 'see the run'} "
                         "(nothing of it was registered; fix it and run again)")
        if key.startswith("register/"):
            lines += _registration_lines(str(meta.get("market", key)), meta)
        if key.startswith("reconcile/"):
            lines += _followup_lines(meta)
        if _n(meta, "unplaced_in_batches"):
            lines.append(f"NO: {_n(meta, 'unplaced_in_batches')} invoice(s) in finished batches match none of the items "
                         "Amili reported and were not found at Amili by our key: they keep waiting (never sent "
                         "again); check the batch at Amili (the run's log names it and the invoices); for one "
                         "it does not hold, `amili-pipelines retry KEY --reason ...` checks the batch again and "
                         "sends it once more")
        if _n(meta, "items_skipped"):
            lines.append(f"{_n(meta, 'items_skipped')} item(s) read from Amili could not be used and were skipped "
                         f"({meta.get('skipped') or 'see the run'}): check them at Amili; a Norwegian one is read "
                         "again by every run, a Swedish one when Amili changes it or on a full read")
        if key.startswith("books/") and _n(meta, "payouts_held"):
            lines.append(f"books: {_n(meta, 'payouts_held')} Amili payout(s) not booked as Amili reports them "
                         f"({meta.get('held') or 'see the run'}): check them at Amili; the next run books them "
                         "once their lines agree with the transfer")
        if key.startswith("books/") and _n(meta, "verifications_moved"):
            # Booked, nothing to redo; but the money is missing from its own period's figures: the accountant must know why.
            lines.append(f"books: {_n(meta, 'verifications_moved')} verification(s) of a closed period dated the first "
                         f"open day instead ({meta.get('moved') or 'see the run'}): their texts say so; tell the "
                         "creditor's accountant")
    return lines


def _registration_lines(market: str, meta: Mapping[str, Any]) -> list[str]:
    lines = []
    if meta.get("amili_unreachable"):
        lines.append(f"{market}: Amili did not answer; {_n(meta, 'still_pending')} invoice(s) not sent, still "
                     "pending: the next run sends them once Amili answers")
    elif _n(meta, "still_pending"):
        lines.append(f"{market}: {_n(meta, 'still_pending')} invoice(s) still pending after repeated failures: "
                     "the next run tries again")
    if _n(meta, "still_unknown"):
        lines.append(f"{market}: {_n(meta, 'still_unknown')} invoice(s) with an unclear outcome: the next run "
                     "looks them up at Amili before anything is sent again")
    if _n(meta, "rejected"):
        lines.append(f"{market}: {_n(meta, 'rejected')} invoice(s) rejected by Amili in this run: see the "
                     "'rejections' table (Amili's own reasons); a fixed source row is sent again, and "
                     "`amili-pipelines retry` sends one again once Amili's side is fixed")
    if _n(meta, "waiting_for_batch") and meta.get("waited_for_batches_s"):
        # Only a run that waited for its batches (a headless run) is done too early; under the
        # Dagster daemon the batch-status sensor records them as they finish.
        lines.append(f"{market}: {_n(meta, 'waiting_for_batch')} invoice(s) still wait for their batch at Amili "
                     f"after {meta['waited_for_batches_s']:.0f} s: the batch-status sensor or the next run records them")
    return lines


def _followup_lines(meta: Mapping[str, Any]) -> list[str]:
    """The follow-up's own "a person is needed": under the Dagster daemon a Norwegian batch's refusals
    and the refused reports of payments are recorded here, not by the registration that sent them."""
    lines = []
    if _n(meta, "invoices_rejected"):
        lines.append(f"NO: {_n(meta, 'invoices_rejected')} invoice(s) rejected by Amili in a finished batch: see the "
                     "'rejections' table (Amili's own reasons); `amili-pipelines retry` sends one again once fixed")
    # case_actions counts a refused action batch among its rejected actions; batch results count it apart.
    refused = _n(meta, "rejected") or _n(meta, "action_batches_rejected")
    if refused:
        lines.append(f"{refused} report(s) to Amili (payment, crediting, cancellation, withdrawal) refused by Amili: "
                     "Amili does not know that money or change yet; see its answer (`amili-pipelines show`) and fix "
                     "what it names (a later run reports it again)")
    if _n(meta, "unknown_outcome"):
        lines.append(f"{_n(meta, 'unknown_outcome')} report(s) to Amili with an unclear outcome: the next run looks "
                     "them up before anything is sent again")
    if _n(meta, "not_found"):
        lines.append(f"{_n(meta, 'not_found')} case(s) of ours Amili does not know (named by a webhook, or no longer "
                     "listed): check them at Amili")
    return lines
