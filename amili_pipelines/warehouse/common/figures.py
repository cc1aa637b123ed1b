"""SQL for figures several tables share (both databases): ageing buckets, fees passed on to the creditor,
the invoice number of an invoice key."""

from __future__ import annotations

from amili_pipelines.domain.books import AGEING_BUCKETS, UNKNOWN_BUCKET


def bucket_sql(days: str) -> tuple[str, str]:
    """(bucket name, bucket order) SQL expressions for the days-past-due expression ``days``."""
    names, orders = [f"WHEN {days} IS NULL THEN '{UNKNOWN_BUCKET}'"], [f"WHEN {days} IS NULL THEN {len(AGEING_BUCKETS) + 1}"]
    for order, (name, upto) in enumerate(AGEING_BUCKETS, start=1):
        when = "ELSE" if upto is None else f"WHEN {days} <= {upto} THEN"
        names.append(f"{when} '{name}'")
        orders.append(f"{when} {order}")
    return f"CASE {' '.join(names)} END", f"CASE {' '.join(orders)} END"


def fees_passed_on(alias: str = "") -> str:
    """Money the creditor got for fees on a settlement line: what it paid out beyond capital and
    interest, net of what Amili kept (Sweden passes reminder fees on; Norway's collection fees stay
    with Amili, so there it is zero)."""
    t = f"{alias}." if alias else ""
    return (f"({t}payout_amount - {t}principal_amount - {t}interest_amount + {t}commission_amount"
            f" + {t}vat_amount)")


def invoice_number_of(key: str = "invoice_key") -> str:
    """The invoice number of an invoice key ``<creditor>/<number>``: everything after the first slash
    (a creditor key has none; an invoice number may have several, ``2026/0042``)."""
    return f"substr({key}, strpos({key}, '/') + 1)"
