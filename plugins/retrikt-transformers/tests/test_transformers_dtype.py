"""The `llm` teacher and generator in bfloat16 on the CPU: the frozen model
runs in bfloat16, the soft prompts are trained and saved in float32, the
scores stay close to float32's, and what one dtype saved loads in another."""

from __future__ import annotations

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
