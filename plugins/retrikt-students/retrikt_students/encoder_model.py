"""A pretrained transformer encoder (BERT family) with mean pooling and a
classification head, fed word-piece ids padded with 0."""

from __future__ import annotations

import torch
from torch import nn


class PretrainedEncoder(nn.Module):
    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    @property
    def embed(self) -> nn.Embedding:
        return self.encoder.get_input_embeddings()

    def pooled(self, ids: torch.Tensor) -> torch.Tensor:
        """Mean of the last hidden states over the real tokens (as the
        sentence-transformers models are trained to be read): ``[n, d]``."""
        mask = (ids != 0).long()
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.pooled(ids)))

    def logits_and_pooled(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.pooled(ids)
        return self.head(self.dropout(pooled)), pooled
