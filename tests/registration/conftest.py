from __future__ import annotations

import pytest

from amili_pipelines.settings import PROJECT_ROOT, load_creditors


@pytest.fixture(scope="session")
def creditors():
    return load_creditors(PROJECT_ROOT / "creditors.yaml")
