"""The `llm` teacher and generator in bfloat16 on the CPU: the frozen model
runs in bfloat16, the soft prompts are trained and saved in float32, the
scores stay close to float32's, and what one dtype saved loads in another."""

from __future__ import annotations

import pytest
import torch
from retrikt_transformers.generator import LLMGenerator, LLMGeneratorOptions
from retrikt_transformers.teacher import LLMTeacher, LLMTeacherOptions

from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions
from retrikt_core.records import Example

TINY = "tiny-random-llama"
TASK = FilesTask(FilesTaskOptions(label_names=["negative", "positive"], description="sentiment"))
EXAMPLES = [
    Example("a dull and boring film", label=0, id="0"),
    Example("awful , messy script", label=0, id="1"),
    Example("a great and moving film", label=1, id="2"),
    Example("fun , sharp and lovely", label=1, id="3"),
]


def teacher(dtype: str) -> LLMTeacher:
    options = LLMTeacherOptions(model=TINY, virtual_tokens=2, epochs=3, lr=0.1, dtype=dtype)
    fitted = LLMTeacher(options)
    fitted.fit(TASK, EXAMPLES, seed=0)
    return fitted


def test_a_bfloat16_teacher_trains_a_float32_prompt_and_scores_like_float32(tmp_path):
    low, full = teacher("bfloat16"), teacher("float32")
    assert low.model.get_base_model().dtype == torch.bfloat16
    prompt = low.model.prompt_encoder["default"].embedding.weight
    assert prompt.dtype == torch.float32 and prompt.requires_grad
    low_probs = torch.tensor(low.predict_proba(EXAMPLES))
    full_probs = torch.tensor(full.predict_proba(EXAMPLES))
    assert low_probs.dtype == torch.float32
    assert torch.allclose(low_probs.sum(1), torch.ones(len(EXAMPLES)), atol=1e-5)
    # bfloat16 keeps about 3 significant digits: the two runs stay close.
    assert (low_probs - full_probs).abs().max() < 0.05
    # Saved from bfloat16, loaded in float32: the float32 prompt travels as is.
    low.save_pretrained(tmp_path / "teacher")
    loaded = LLMTeacher.from_pretrained(tmp_path / "teacher")
    assert loaded.options.dtype == "bfloat16"
    loaded.options.dtype = "float32"
    loaded.model = None
    loaded.load_state(tmp_path / "teacher")
    reloaded_prompt = loaded.model.prompt_encoder["default"].embedding.weight
    assert torch.equal(reloaded_prompt.cpu(), prompt.detach().cpu())


def test_a_bfloat16_generator_samples_from_float32_prompts():
    options = LLMGeneratorOptions(
        model=TINY, virtual_tokens=2, epochs=1, max_new_tokens=6, gen_batch_size=2, dtype="bfloat16"
    )
    generator = LLMGenerator(options)
    generator.fit(TASK, EXAMPLES, seed=0)
    assert generator.model.get_base_model().dtype == torch.bfloat16
    assert generator.prompt_weight(0).dtype == torch.float32
    samples = generator.generate(1, 3, seed=7)
    assert len(samples) == 3 and all(s.requested_label == 1 for s in samples)
    assert generator.prefix_embeddings(1, 2).dtype == torch.bfloat16


def test_a_low_precision_model_keeps_its_residual_stream_and_logits_in_float32(monkeypatch):
    import contextlib
    import copy

    from retrikt_transformers import models

    full, _ = models.tiny_random_llama()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    embeds, context = models.float32_residual(full, ids)
    assert embeds.dtype == torch.float32 and isinstance(context, contextlib.nullcontext)
    low = copy.deepcopy(full).to(torch.bfloat16)
    embeds, context = models.float32_residual(low, ids)
    assert embeds.dtype == torch.float32
    with context:
        out = low(inputs_embeds=embeds, output_hidden_states=True)
    # Every layer added to a float32 sum: the final norm's output is float32 too.
    assert all(h.dtype == torch.float32 for h in out.hidden_states)
    hidden = out.hidden_states[-1]
    head = low.get_output_embeddings()
    expected = hidden @ head.weight.float().T
    # The head's rows are copied to float32 in slices; the slices join exactly.
    monkeypatch.setattr(models, "HEAD_ROWS", 100)
    logits = models.float32_logits(head, hidden)
    assert logits.dtype == torch.float32 and logits.shape == expected.shape
    assert torch.allclose(logits, expected, atol=1e-6)
    # A float32 head is the head itself.
    assert torch.equal(
        models.float32_logits(full.get_output_embeddings(), hidden),
        full.get_output_embeddings()(hidden),
    )


@pytest.mark.slow
def test_bfloat16_labels_agree_with_float32_on_sst2_dev(tmp_path):
    """The teacher a run tunes (SmolLM2, an 8-token soft prompt on 16 SST-2
    train examples), scoring all 872 dev reviews in float32 and, loaded from
    the same saved prompt, in bfloat16 on this CPU: the same label on at least
    99% of them. About 7% of the reviews sit within 0.47-0.53, and bfloat16
    rounds every weight: with every activation rounded too, 15 of them flipped
    (98.3%); with the residual stream and logits in float32, 8 (99.1%); on
    the CPU, which now computes in float32 from the bfloat16 weights, 3 of
    the 172 reviews scored within 0.4-0.6 flip."""
    import random

    from retrikt_core.builtin.tasks.presets import PresetOptions, SST2Task
    from retrikt_core.testing.runs import shared_data_or_skip

    task = SST2Task(PresetOptions(data_dir=str(shared_data_or_skip("sst2"))))
    shots = random.Random(0).sample(task.load("train"), 16)
    dev = task.load(task.eval_split)
    tuned = LLMTeacher(LLMTeacherOptions(virtual_tokens=8, epochs=10, batch_size=32))
    tuned.fit(task, shots, seed=0)
    tuned.save_pretrained(tmp_path / "teacher")
    low = LLMTeacher.from_pretrained(tmp_path / "teacher")
    low.options.dtype = "bfloat16"
    low.model = None
    low.load_state(tmp_path / "teacher")
    assert low.model.get_base_model().dtype == torch.bfloat16
    labels = {}
    for dtype, teacher in (("float32", tuned), ("bfloat16", low)):
        labels[dtype] = [max(range(2), key=row.__getitem__) for row in teacher.predict_proba(dev)]
    same = sum(a == b for a, b in zip(labels["float32"], labels["bfloat16"], strict=True))
    assert len(dev) == 872
    assert same / len(dev) >= 0.99, f"{same} of {len(dev)} labels agree"
