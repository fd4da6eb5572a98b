"""``tiny-transformer``: a small transformer student (about 1% of SmolLM2-135M
at the defaults) with a trainable soft prompt, trained retrieval-aware like
every student here (:mod:`retrikt_students.training`)."""

from __future__ import annotations

from dataclasses import dataclass

from retrikt_core.api import OptionError, option
from retrikt_students.training import RetrievalStudent, StudentTrainingOptions


@dataclass
class TransformerStudentOptions(StudentTrainingOptions):
    layers: int = option(2, "transformer layers", minimum=1)
    heads: int = option(4, "attention heads (must divide d_model)", minimum=1)
    ff: int = option(256, "feed-forward width", minimum=1)
    prompt_tokens: int = option(4, "soft-prompt vectors prepended to every input", minimum=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.d_model % self.heads:
            raise OptionError("heads", f"must divide d_model ({self.d_model}), got {self.heads}")


class TransformerStudent(RetrievalStudent):
    """A tiny transformer with a soft prompt that interpolates with retrieved labels."""

    name = "tiny-transformer"
    Options = TransformerStudentOptions

    def _make_model(self, vocab_size: int, num_labels: int):
        """The network: embeddings (``.embed``), ``pooled(ids)`` and ``forward(ids)``."""
        from retrikt_students.transformer_model import TinyEncoder

        o = self.options
        return TinyEncoder(
            vocab_size,
            num_labels,
            o.d_model,
            o.layers,
            o.heads,
            o.ff,
            o.max_length,
            o.prompt_tokens,
            o.dropout,
        )
