"""A word vocabulary built from the texts a student trains on."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from retrikt_core.records import Example

SPECIALS = ("[PAD]", "[UNK]", "[SEP]")
PAD, UNK, SEP = 0, 1, 2
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class Vocab:
    def __init__(self, words: list[str]) -> None:
        self.words = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, examples: list[Example], size: int) -> Vocab:
        """The ``size`` most frequent words (ties by first appearance)."""
        counts: Counter = Counter()
        for e in examples:
            counts.update(tokenize(e.text))
            if e.text_pair:
                counts.update(tokenize(e.text_pair))
        return cls([w for w, _ in counts.most_common(size - len(SPECIALS))])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, example: Example, max_length: int) -> list[int]:
        """Word ids of the text (and ``[SEP]`` + pair), cut to ``max_length``.
        For a pair, each side keeps at most half the budget."""
        first = [self.index.get(t, UNK) for t in tokenize(example.text)]
        if example.text_pair is None:
            return first[:max_length]
        second = [self.index.get(t, UNK) for t in tokenize(example.text_pair)]
        half = (max_length - 1) // 2
        keep_second = min(len(second), max_length - 1 - min(len(first), half))
        keep_first = max_length - 1 - keep_second
        return first[:keep_first] + [SEP] + second[:keep_second]


def padded_ids(examples: list[Example], vocab: Vocab | None, max_length: int) -> np.ndarray:
    """``[n, width]`` int64 token ids, padded with 0, as every runtime of a
    student feeds its network: the student's own words, or with ``vocab=None``
    all-MiniLM-L6-v2 word pieces (``embeddings = "minilm-static"``). An empty
    text becomes one unknown token."""
    if vocab is None:
        from retrikt_students import static_vectors

        unk = static_vectors.tokenizer().token_to_id("[UNK]")
        rows = [static_vectors.token_ids(e, max_length) or [unk] for e in examples]
    else:
        rows = [vocab.encode(e, max_length) or [UNK] for e in examples]
    out = np.full((len(rows), max(map(len, rows), default=1)), PAD, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out
