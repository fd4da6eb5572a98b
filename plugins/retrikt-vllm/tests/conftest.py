"""The engine tests (``engine/``) need vLLM, which lives in ``.venv-vllm``
(``make setup-vllm``; ``make test`` runs them there). The project's main
environment cannot hold vLLM (the CPU build pins transformers below the
release the rest of the project uses), so there they are not collected and
the header says where they run."""

from __future__ import annotations

import importlib.util

VLLM = importlib.util.find_spec("vllm") is not None
collect_ignore = [] if VLLM else ["engine"]


def pytest_report_header(config):
    if not VLLM:
        return "retrikt-vllm: engine tests run in .venv-vllm (make test), not collected here"
    return None
