"""Extract-time filtering: degenerate text, duplicates, and eval leakage
(exact and near duplicates), on hand-made entries."""

from __future__ import annotations

from retrikt_core.knowledge import NearDuplicateIndex, filter_knowledge
from retrikt_core.records import Example, Knowledge

EVAL = [
    Example("a gorgeous , witty , seductive movie about love and loss .", label=1, id="e0"),
    Example("the plot is nothing but boilerplate clichés from start to finish", label=0, id="e1"),
]


def run(entries, near=0.8, pair=False, eval_examples=EVAL):
    return filter_knowledge(
        [Knowledge(text=t, text_pair=p, source="corpus") for t, p in entries],
        eval_examples,
        min_words=3,
        max_words=128,
        drop_duplicates=True,
        drop_eval_overlap=True,
        is_pair=pair,
        near_duplicate=near,
    )


def test_a_planted_eval_sentence_and_its_near_copies_are_dropped():
    report = run(
        [
            ("A gorgeous, witty, seductive movie about love and loss.", None),  # exact (normalised)
            ("a gorgeous , witty , seductive movie about love and loss !!", None),  # exact too
            ("a gorgeous , witty , seductive film about love and loss .", None),  # one word swapped
            ("the plot is nothing but boilerplate clichés", None),  # a phrase cut from e1
            ("an honest , funny story about a family in crisis", None),  # unrelated: kept
        ]
    )
    assert [k.text for k in report.kept] == ["an honest , funny story about a family in crisis"]
    assert report.dropped == {"eval_overlap": 2, "eval_near_duplicate": 2}


def test_threshold_zero_keeps_near_copies():
    report = run([("a gorgeous , witty , seductive film about love and loss .", None)], near=0.0)
    assert len(report.kept) == 1 and not report.dropped


def test_short_entries_sharing_a_few_words_are_not_leaks():
    report = run([("about love and loss", None), ("seductive movie", None)], near=0.8)
    # Three words of an eval sentence are not that sentence; nor is a two-word
    # fragment (too short for containment, and degenerate at min_words=3).
    assert [k.text for k in report.kept] == ["about love and loss"]
    assert report.dropped == {"degenerate": 1}


def test_each_side_of_a_pair_is_checked():
    evaluation = [Example("the cat sat on the mat all day long", "a cat sat", label=0, id="p0")]
    report = run(
        [
            ("the cat sat on the mat all day long today", "the dog ran"),  # near premise
            ("birds fly south in the winter months", "birds migrate"),
        ],
        pair=True,
        eval_examples=evaluation,
    )
    assert [k.text for k in report.kept] == ["birds fly south in the winter months"]
    assert report.dropped == {"eval_near_duplicate": 1}


def test_similarity_is_word_jaccard_or_trigram_containment():
    index = NearDuplicateIndex(["one two three four five six"], threshold=0.8)
    assert index.similarity("one two three four five six") == 1.0
    assert index.similarity("two three four five six") == 1.0  # contained: 3 of 3 trigrams
    assert index.similarity("seven eight nine ten") == 0.0
    # One word swapped: trigrams contained 3 of 4 = 0.75; word sets 5 of 7.
    assert index.similarity("one two three four five ten") == 0.75
    # Reordered words: no trigram in common, word-set Jaccard 1.
    assert index.similarity("six five four three two one") == 1.0
    # Too short for either measure (one trigram, three words): only exact
    # repeats of an eval text are dropped at this length.
    assert index.similarity("two three four") == 0.0
