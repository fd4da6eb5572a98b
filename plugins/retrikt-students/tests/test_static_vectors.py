"""Static MiniLM vectors: the distilled table, sentence encoding, and a
student that starts from it (slow the first time on a machine: the table is
distilled once, about a minute on 2 cores, then cached)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from retrikt_students import static_vectors
from retrikt_students.tiny_transformer import TransformerStudent, TransformerStudentOptions
from test_tiny_transformer_student import TASK, make_data

from retrikt_core.records import Example

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def table():
    try:
        static_vectors.model_folder()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    return static_vectors.vectors(32)


def test_table_covers_the_vocabulary_and_is_reduced(table):
    assert table.shape == (static_vectors.tokenizer().get_vocab_size(), 32)
    assert table.dtype == np.float32
    assert np.isfinite(table).all()
    # Cached: a second call returns the same numbers without distilling again.
    assert np.array_equal(static_vectors.vectors(32), table)


def test_sentences_with_shared_meaning_are_closer(table):
    a, b, c = static_vectors.encode(
        [
            Example("a wonderful, moving film"),
            Example("a great and touching movie"),
            Example("the tax form is due in april"),
        ],
        32,
    )
    assert np.allclose([a @ a, b @ b, c @ c], 1.0, atol=1e-5)
    assert a @ b > a @ c and a @ b > b @ c


def test_pair_ids_keep_both_sides_within_the_budget(table):
    sep = static_vectors.tokenizer().token_to_id("[SEP]")
    ids = static_vectors.token_ids(Example("word " * 40, text_pair="other " * 40), 21)
    assert len(ids) == 21 and ids.count(sep) == 1
    assert ids.index(sep) == 10


def test_student_starts_from_the_table_and_can_freeze_it(table, tmp_path):
    kshot, knowledge, evaluation = make_data()
    options = TransformerStudentOptions(
        embeddings="minilm-static",
        freeze_embeddings=True,
        d_model=32,
        layers=1,
        heads=2,
        ff=64,
        epochs=6,
        batch_size=16,
        lr=0.005,
    )
    student = TransformerStudent(options)
    student.fit(TASK, kshot, knowledge, None, seed=0)
    weight = student.model.embed.weight.detach()
    assert torch.equal(weight[1:], torch.from_numpy(table)[1:])  # frozen: unchanged
    probs = np.array(student.predict_proba(evaluation))
    accuracy = float((probs.argmax(1) == [e.label for e in evaluation]).mean())
    assert accuracy > 0.8
    student.save_pretrained(tmp_path / "s")
    loaded = TransformerStudent.from_pretrained(tmp_path / "s")
    assert not (tmp_path / "s" / "vocab.json").exists()
    assert np.allclose(loaded.predict_proba(evaluation), probs, atol=1e-6)
