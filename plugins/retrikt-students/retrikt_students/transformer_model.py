"""A tiny transformer encoder with a trainable soft prompt and a classification head."""

from __future__ import annotations

import torch
from torch import nn


class TinyEncoder(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        d_model: int,
        layers: int,
        heads: int,
        ff: int,
        max_length: int,
        prompt_tokens: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.position = nn.Embedding(max_length + prompt_tokens, d_model)
        # Small positions (as in BERT): at nn.Embedding's N(0, 1) they would
        # outweigh unit-norm static word vectors eightfold at d_model 64.
        nn.init.normal_(self.position.weight, std=0.02)
        self.prompt = nn.Parameter(torch.randn(prompt_tokens, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, ff, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_labels)

    def pooled(self, ids: torch.Tensor) -> torch.Tensor:
        """Mean of the outputs over the prompt and the real tokens: ``[n, d]``."""
        n, length = ids.shape
        prompt = self.prompt.unsqueeze(0).expand(n, -1, -1)
        x = torch.cat([prompt, self.embed(ids)], dim=1)
        x = x + self.position(torch.arange(x.shape[1], device=ids.device))
        valid = torch.cat(
            [torch.ones(n, prompt.shape[1], dtype=torch.bool, device=ids.device), ids != 0], dim=1
        )
        h = self.norm(self.encoder(x, src_key_padding_mask=~valid))
        weights = valid.unsqueeze(-1).float()
        return (h * weights).sum(1) / weights.sum(1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(ids))

    def logits_and_pooled(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.pooled(ids)
        return self.head(pooled), pooled
