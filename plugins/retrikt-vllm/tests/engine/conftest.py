from __future__ import annotations

import pytest
from retrikt_vllm.engine import shutdown_engines


@pytest.fixture(scope="session", autouse=True)
def _stop_engines():
    """One engine serves every engine test; stopped while pytest still holds
    its output streams."""
    yield
    shutdown_engines()
