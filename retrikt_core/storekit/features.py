"""Hashed bag-of-n-grams features: a dependency-free encoder for the built-in
components (no vocabulary to fit, deterministic across processes)."""

from __future__ import annotations

import re
import zlib

import numpy as np

from retrikt_core.records import Example

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _ngrams(tokens: list[str], prefix: str, n: int) -> list[str]:
    grams = [prefix + t for t in tokens]
    for size in range(2, n + 1):
        grams += [prefix + " ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]
    return grams


def example_terms(example: Example, ngram: int = 2) -> list[str]:
    """Terms of an example; for a pair, each side is namespaced and the words
    the two sides share are added (a cheap overlap signal for entailment)."""
    first = tokenize(example.text)
    if example.text_pair is None:
        return _ngrams(first, "", ngram)
    second = tokenize(example.text_pair)
    shared = sorted(set(first) & set(second))
    return _ngrams(first, "a:", ngram) + _ngrams(second, "b:", ngram) + ["o:" + t for t in shared]


def hashed_features(examples: list[Example], dim: int, ngram: int = 2) -> np.ndarray:
    """``[n, dim]`` float32, sublinear term frequencies with the signed hashing
    trick, rows L2-normalised (so inner product = cosine)."""
    if dim < 1 or ngram < 1:
        raise ValueError(f"hashed_features needs dim >= 1 and ngram >= 1, got {dim} and {ngram}")
    out = np.zeros((len(examples), dim), dtype=np.float32)
    for row, example in enumerate(examples):
        for term in example_terms(example, ngram):
            h = zlib.crc32(term.encode("utf-8"))
            out[row, h % dim] += 1.0 if (h >> 31) & 1 else -1.0
    np.copysign(np.log1p(np.abs(out)), out, out=out)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out
