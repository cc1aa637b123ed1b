"""Amili Norway's Collection API v1, served under ``/collection/v1`` (token endpoint: ``/token``).

One module per resource, each with its own routes: ``auth`` (``/token``, bearer and organization
checks), ``batches`` (the asynchronous writes and ``/batches``), ``invoices``, ``cases`` (incl. the case
actions), ``payments`` (payments and corrections applied to cases), ``settlements``; ``validation``
checks batch items, ``endpoints`` holds the shared envelope, paging and list/item handlers.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from . import auth, batches, cases, invoices, settlements


def build_routes(engine: Any) -> list[Route]:
    """Every Norwegian route. The order matters only for 405 answers (the first path match names the
    allowed methods), so it is kept stable."""
    return [
        *auth.routes(engine),
        *batches.write_routes(engine),
        *invoices.routes(engine),
        *cases.read_routes(engine),
        *batches.read_routes(engine),
        *settlements.routes(engine),
        *cases.action_routes(engine),
    ]
