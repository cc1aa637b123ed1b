"""The webhook receiver, except that it dies right after storing its first delivery, before answering.

Run as ``python -m tests.support.crashing_receiver --port N`` with the receiver's environment; the
crash test then starts the real receiver on the same port and checks the redelivery stores nothing new.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from amili_pipelines.settings import Settings
from amili_pipelines.warehouse.spool import open_inbox
from amili_pipelines.webhooks.app import ReceiverConfig, create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings()

    def die() -> None:
        os._exit(137)  # as SIGKILL would: no answer, no cleanup

    app = create_app(ReceiverConfig.from_settings(settings), open_inbox(settings.webhook_inbox), after_store=die)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
