"""The BiLSTM student (XtremeDistil's shape) and the distillation targets it
shares with the transformer student."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from retrikt_students.bilstm import BiLSTMStudent, BiLSTMStudentOptions
from retrikt_students.losses import (
    cross_entropy_rows,
    hard_targets,
    hidden_match_rows,
    knowledge_targets,
    soft_targets,
)
from test_tiny_transformer_student import TASK, make_data, retriever_over

from retrikt_core.config import ConfigError, build_options


def test_soft_targets_apply_the_temperature():
    probs = [[0.8, 0.2]]
    assert torch.allclose(soft_targets(probs, 1.0), torch.tensor(probs))
    # T = 2: p_i^(1/2) normalised: sqrt(.8) / (sqrt(.8) + sqrt(.2)) = 2/3.
    assert torch.allclose(soft_targets(probs, 2.0), torch.tensor([[2 / 3, 1 / 3]]))
    # T -> small sharpens toward the argmax.
    assert soft_targets(probs, 0.1)[0, 0] > 0.999


def test_hard_targets_are_the_teacher_argmax():
    assert hard_targets([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]).tolist() == [
        [0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0],
    ]


def test_mixed_targets_equal_the_weighted_sum_of_both_losses():
    probs = [[0.7, 0.3], [0.4, 0.6]]
    log_p = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
    targets, weight = knowledge_targets(probs, 2.0, soft_weight=0.25, hard_weight=0.75)
    assert weight == 1.0
    combined = weight * cross_entropy_rows(targets, log_p)
    separate = 0.25 * cross_entropy_rows(soft_targets(probs, 2.0), log_p) + 0.75 * (
        cross_entropy_rows(hard_targets(probs), log_p)
    )
    assert torch.allclose(combined, separate)
    # Row 2 by hand, hard part only: the teacher says label 1, the student gives it 0.1.
    _, w = knowledge_targets(probs, 1.0, soft_weight=0.0, hard_weight=2.0)
    hard_only = w * cross_entropy_rows(knowledge_targets(probs, 1.0, 0.0, 2.0)[0], log_p)
    assert math.isclose(hard_only[1].item(), -2 * math.log(0.1), rel_tol=1e-6)


def test_hidden_match_is_the_cosine_distance_and_ignores_scale():
    teacher = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    student = torch.tensor([[5.0, 0.0], [0.0, 2.0], [-1.0, 0.0], [0.6, 0.8]])
    rows = hidden_match_rows(student, teacher)
    assert rows.tolist() == pytest.approx([0.0, 1.0, 2.0, 0.0], abs=1e-6)


def test_hidden_states_are_matched_through_a_projection_not_kept(tmp_path):
    kshot, knowledge, _ = make_data()
    rng = np.random.default_rng(0)
    states = rng.normal(size=(len(knowledge), 12)).astype(np.float32)
    small = dict(vocab_size=200, d_model=16, hidden=16, epochs=6, lr=0.01)
    options = BiLSTMStudentOptions(**small, hidden_weight=1.0)
    student = BiLSTMStudent(options)
    assert student.wants_teacher_states()
    stats = student.fit(TASK, kshot, knowledge, None, seed=0, teacher_states=states)
    first, last = stats["hidden_match"]
    assert last < first  # the projection learns to point at the teacher's states
    plain = BiLSTMStudent(BiLSTMStudentOptions(**small))
    assert not plain.wants_teacher_states()
    plain.fit(TASK, kshot, knowledge, None, seed=0)
    assert student.num_parameters() == plain.num_parameters()  # training-only projection
    student.save_pretrained(tmp_path / "matched")
    plain.save_pretrained(tmp_path / "plain")
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "matched" / "model.safetensors")
    assert saved.keys() == load_file(tmp_path / "plain" / "model.safetensors").keys()
    with pytest.raises(ValueError, match=r"teacher_states: shape \(11, 12\), expected \(120 "):
        BiLSTMStudent(options).fit(TASK, kshot, knowledge, None, seed=0, teacher_states=states[:11])


def test_both_weights_zero_is_refused_naming_the_option():
    with pytest.raises(ConfigError, match=r"student\.soft_weight"):
        build_options("student", BiLSTMStudentOptions, {"soft_weight": 0.0, "hard_weight": 0.0})


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_bilstm_learns_with_retrieval(pooling):
    kshot, knowledge, evaluation = make_data()
    student = BiLSTMStudent(
        BiLSTMStudentOptions(
            vocab_size=200,
            d_model=32,
            hidden=32,
            epochs=10,
            lr=0.01,
            pooling=pooling,
            hard_weight=0.5,
        )
    )
    retriever = retriever_over(knowledge)
    stats = student.fit(TASK, kshot, knowledge, retriever, seed=0)
    assert stats["last_loss"] < stats["first_loss"]
    assert 0.0 < stats["lam"] < 1.0
    probs = np.array(student.predict_proba(evaluation, retriever.retrieve(evaluation)))
    accuracy = float((probs.argmax(1) == [e.label for e in evaluation]).mean())
    assert accuracy > 0.8
    # Parameters: embeddings, both LSTM directions and the head, nothing else.
    vocab, d, h = stats["vocab"], 32, 32
    lstm = 2 * (4 * h * (d + h) + 2 * 4 * h)
    assert student.num_parameters() == vocab * d + lstm + (2 * h * 2 + 2)


def test_padding_does_not_change_a_prediction():
    kshot, knowledge, evaluation = make_data()
    student = BiLSTMStudent(BiLSTMStudentOptions(vocab_size=200, d_model=16, hidden=16, epochs=2))
    student.fit(TASK, kshot, knowledge, None, seed=0)
    short = evaluation[0]
    alone = student.predict_proba([short])
    with_long = student.predict_proba([short, evaluation[1].__class__(short.text + " x" * 30)])
    assert np.allclose(alone[0], with_long[0], atol=1e-5)


@pytest.mark.parametrize("layers", [1, 2])
def test_unpacked_states_equal_a_packed_lstm(layers):
    """The dense two-direction run gives what nn.LSTM gives on a packed batch
    at every real token, with the same weights (so saved students load)."""
    from retrikt_students.bilstm_model import BiLSTMEncoder

    torch.manual_seed(0)
    model = BiLSTMEncoder(100, 2, 16, 12, layers, "mean", 0.0).eval()
    lengths = torch.tensor([9, 3, 1, 6, 8])
    ids = torch.randint(1, 100, (5, 9))
    for row, length in enumerate(lengths):
        ids[row, length:] = 0
    x = model.embed(ids)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, lengths, batch_first=True, enforce_sorted=False
    )
    expected, _ = model.lstm(packed)
    expected, _ = torch.nn.utils.rnn.pad_packed_sequence(expected, batch_first=True, total_length=9)
    with torch.no_grad():
        states = model.states(x, lengths) * (ids != 0).unsqueeze(-1)
    assert torch.allclose(states, expected, atol=1e-6)
