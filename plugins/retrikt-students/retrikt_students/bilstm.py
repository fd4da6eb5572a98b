"""``bilstm``: the XtremeDistil student shape (Mukherjee & Hassan Awadallah,
2020): word embeddings, a bidirectional LSTM, pooling and a classification
head. It trains and predicts with retrieval as ``tiny-transformer`` does (the
shared :mod:`retrikt_students.training`: same losses, same learned
interpolation with retrieved labels); only the network differs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from retrikt_core.api import option
from retrikt_students.training import RetrievalStudent, StudentTrainingOptions


@dataclass
class BiLSTMStudentOptions(StudentTrainingOptions):
    hidden: int = option(128, "LSTM hidden size per direction", minimum=1)
    layers: int = option(1, "stacked BiLSTM layers", minimum=1)
    pooling: Literal["mean", "max"] = option("mean", "how token states become one vector")


class BiLSTMStudent(RetrievalStudent):
    """A BiLSTM student (XtremeDistil's shape) that interpolates with retrieved labels."""

    name = "bilstm"
    Options = BiLSTMStudentOptions

    def _make_model(self, vocab_size: int, num_labels: int):
        from retrikt_students.bilstm_model import BiLSTMEncoder

        o = self.options
        return BiLSTMEncoder(
            vocab_size, num_labels, o.d_model, o.hidden, o.layers, o.pooling, o.dropout
        )
