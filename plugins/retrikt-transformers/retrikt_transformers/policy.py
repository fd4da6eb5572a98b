"""The generator as an RL policy: only the soft prompts are trainable.

Scoring runs the frozen base LM on ``[prompt embeddings; cue; sample]`` with
the prompt passed explicitly, so the same code scores under the current
prompts (with gradients) and under the frozen reference (supervised) prompts
that the KL penalty compares against.
"""

from __future__ import annotations

from retrikt_core.api import Rollout


class SoftPromptPolicy:
    """Sample, re-score and train the label prompts of an :class:`LLMGenerator`."""

    def __init__(self, generator) -> None:
        self.generator = generator
        self.base = generator.model.get_base_model()
        self.reference = {
            label: generator.prompt_weight(label).detach().clone()
            for label in range(generator.num_labels)
        }

    @property
    def num_labels(self) -> int:
        return self.generator.num_labels

    def parameters(self) -> list:
        """The trainable tensors: one ``[virtual_tokens, hidden]`` prompt per label."""
        return [self.generator.prompt_weight(label) for label in range(self.num_labels)]

    def score(
        self, label: int, sequences: list[list[int]], reference: bool = False, hidden: bool = False
    ):
        """Per-token log-probs ``[n, T]`` (and mask; and last hidden states if asked)
        of ``sequences`` after the cue, under the current or the reference prompt."""
        import torch

        prompt = self.reference[label] if reference else None
        pad = self.generator.tokenizer.pad_token_id
        width = max(1, max(map(len, sequences)))
        device = self.generator.device
        tokens = torch.tensor([s + [pad] * (width - len(s)) for s in sequences], device=device)
        mask = torch.tensor(
            [[True] * len(s) + [False] * (width - len(s)) for s in sequences], device=device
        )
        n = len(sequences)
        prefix = self.generator.prefix_embeddings(label, n, prompt)
        embeds = torch.cat([prefix, self.base.get_input_embeddings()(tokens)], dim=1)
        ones = torch.ones(n, prefix.shape[1], dtype=torch.long, device=device)
        attention = torch.cat([ones, mask.long()], 1)
        out = self.base(inputs_embeds=embeds, attention_mask=attention, output_hidden_states=hidden)
        start = prefix.shape[1] - 1  # logits at p predict token p + 1
        # float32 for the log-probs PPO compares, whatever the model's dtype
        logits = out.logits[:, start : start + width, :].float()
        logits = logits / self.generator.options.temperature
        logp = logits.log_softmax(-1).gather(2, tokens.unsqueeze(-1)).squeeze(-1)
        logp = logp.masked_fill(~mask, 0.0)
        if hidden:
            states = out.hidden_states[-1][:, start : start + width, :].float()
            return logp, mask, states
        return logp, mask

    def sample(self, label: int, n: int, *, seed: int) -> Rollout:
        import torch

        sequences = self.generator.sample_ids(label, n, seed=seed)
        samples = [self.generator.decode(label, s, seed, i) for i, s in enumerate(sequences)]
        with torch.no_grad():
            logprobs, mask = self.score(label, sequences)
        return Rollout(label, samples, sequences, logprobs, mask)
