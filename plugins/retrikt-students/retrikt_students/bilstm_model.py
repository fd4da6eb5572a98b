"""The BiLSTM network of the ``bilstm`` student."""

from __future__ import annotations

import torch
from torch import nn


class BiLSTMEncoder(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        d_model: int,
        hidden: int,
        layers: int,
        pooling: str,
        dropout: float,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.lstm = nn.LSTM(
            d_model,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.pooling = pooling
        self.head = nn.Linear(2 * hidden, num_labels)

    def pooled(self, ids: torch.Tensor) -> torch.Tensor:
        """``[n, 2 * hidden]``: token states pooled over the real tokens."""
        valid = (ids != 0).unsqueeze(-1)
        # Packed, so the backward direction starts at each input's last real
        # token: padding must not change a prediction.
        lengths = valid.squeeze(-1).sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.dropout(self.embed(ids)), lengths, batch_first=True, enforce_sorted=False
        )
        states, _ = self.lstm(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(
            states, batch_first=True, total_length=ids.shape[1]
        )
        if self.pooling == "max":
            return states.masked_fill(~valid, float("-inf")).max(1).values
        weights = valid.float()
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.pooled(ids)))

    def logits_and_pooled(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.pooled(ids)
        return self.head(self.dropout(pooled)), pooled
