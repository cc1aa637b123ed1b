"""``python -m amili_pipelines.emulator --host H --port P [--state PATH] [--config PATH]``"""

from __future__ import annotations

import argparse
from pathlib import Path

from .server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m amili_pipelines.emulator", description="Run the Amili emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--state", type=Path, default=None, help="JSON file to load state from and save it to")
    parser.add_argument("--config", type=Path, default=None, help="YAML/JSON EmulatorConfig file")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, state_path=args.state, config_path=args.config)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
