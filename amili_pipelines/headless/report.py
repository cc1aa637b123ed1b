"""The exit status of a headless run: 0 when nothing needs a person, 1 when the run failed, 3 when it
finished but something needs a person (:func:`amili_pipelines.alerts.attention.needs_attention`)."""

from __future__ import annotations

from typing import Any

from amili_pipelines.alerts.attention import needs_attention

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_ATTENTION = 0, 1, 2, 3


def exit_status(outcome: Any) -> int:
    if not outcome.success:
        return EXIT_FAILED
    return EXIT_ATTENTION if needs_attention(outcome.metadata) else EXIT_OK
