"""Visma Amili Sweden's "ADA API" (Python-Eve style), served at the server root.

One module per resource, each with its own routes: ``auth`` (``/authenticates/api-code``),
``invoice_registrations``, ``case_registrations``, ``cases`` (incl. respite), ``creditor_actions``,
``creditors`` (Partner API), ``media`` (uploads), ``finance`` (payout lines and payouts); ``endpoints``
holds the shared ``X-API-Key`` check and Eve list/item/POST handlers, ``registration_rules`` the checks
both registration kinds share, ``schemas`` the request schemas.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from . import auth, case_registrations, cases, creditor_actions, creditors, invoice_registrations, media
from .endpoints import read_routes


def build_routes(engine: Any) -> list[Route]:
    """Every Swedish route. The order matters only for 405 answers (the first path match names the
    allowed methods), so it is kept stable."""
    return [
        *invoice_registrations.routes(engine),
        *auth.routes(engine),
        *case_registrations.routes(engine),
        *creditor_actions.routes(engine),
        *creditors.routes(engine),
        *cases.routes(engine),
        *media.routes(engine),
        *read_routes(engine),
    ]
