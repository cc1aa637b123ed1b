"""The Amili emulator: a local fake of Visma Amili Sweden (ADA API) and Amili Norway (Collection API v1).

Written from the published contract only (shared/reference/amili-api.md and the seed documents);
it imports nothing from the rest of ``amili_pipelines``. See README.md in this folder.
"""

from .config import EmulatorConfig, FaultConfig

__all__ = ["EmulatorConfig", "FaultConfig", "create_app", "running_emulator", "serve"]


def __getattr__(name: str):  # lazy: keep `import amili_pipelines.emulator` cheap
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "serve":
        from .server import serve

        return serve
    if name == "running_emulator":
        from .testing import running_emulator

        return running_emulator
    raise AttributeError(name)
