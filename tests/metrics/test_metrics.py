"""Text metrics on hand-made cases, answers worked out by hand (multi-bleu.perl's definition)."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from im2markup.metrics.text import (
    corpus_bleu,
    edit_distance_score,
    token_edit_distance,
    token_match_rate,
)


def multi_bleu_by_hand(hyps: list[list[str]], refs: list[list[str]]) -> float:
    """multi-bleu.perl: clipped n-gram counts summed over the corpus, geometric mean, brevity."""
    matched = [0] * 4
    total = [0] * 4
    for hyp, ref in zip(hyps, refs, strict=True):
        for n in range(1, 5):
            hyp_ngrams = Counter(tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1))
            ref_ngrams = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
            matched[n - 1] += sum(min(c, ref_ngrams[g]) for g, c in hyp_ngrams.items())
            total[n - 1] += max(len(hyp) - n + 1, 0)
    if min(matched) == 0:
        return 0.0
    c = sum(len(h) for h in hyps)
    r = sum(len(g) for g in refs)
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return (
        100
        * brevity
        * math.exp(sum(math.log(m / t) for m, t in zip(matched, total, strict=True)) / 4)
    )


GOLD = ["a", "b", "c", "d", "e", "f", "g", "h"]
ONE_OFF = ["a", "b", "c", "X", "e", "f", "g", "h"]


def test_identical_corpus_scores_100() -> None:
    golds = [GOLD, ["x", "^", "{", "2", "}"]]
    assert corpus_bleu(golds, golds) == pytest.approx(100.0)
    assert edit_distance_score(golds, golds) == pytest.approx(100.0)
    assert token_match_rate(golds, golds) == 100.0


def test_one_token_off_bleu_is_one_half() -> None:
    # precisions 7/8, 5/7, 3/6, 1/5; product 1/16; fourth root 1/2; no brevity penalty
    assert corpus_bleu([ONE_OFF], [GOLD]) == pytest.approx(50.0)
    assert edit_distance_score([ONE_OFF], [GOLD]) == pytest.approx(100 * (1 - 1 / 8))


def test_brevity_penalty() -> None:
    short = GOLD[:-1]
    # every n-gram of the prediction is in the gold; only the brevity penalty exp(1 - 8/7) bites
    assert corpus_bleu([short], [GOLD]) == pytest.approx(100 * math.exp(1 - 8 / 7))


def test_clipping_and_no_smoothing() -> None:
    # unigram 'a' clipped to one match; no matching bigram at all, so BLEU is 0 without smoothing
    assert corpus_bleu([["a", "a", "a", "a"]], [["a", "b", "c", "d"]]) == 0.0


@pytest.mark.parametrize(
    ("hyps", "refs"),
    [
        ([ONE_OFF, ["x", "y", "z", "w"]], [GOLD, ["x", "y", "z", "w"]]),
        (
            [GOLD[:5], ["\\frac", "{", "1", "}", "{", "2", "}"]],
            [GOLD, ["\\frac", "{", "1", "}", "{", "3", "}"]],
        ),
        (
            [["a", "b", "c", "d", "a", "b", "c", "d"], ["p", "q"]],
            [["a", "b", "c", "d"], ["p", "q", "r", "s", "t"]],
        ),
    ],
)
def test_bleu_matches_multi_bleu_definition(hyps: list[list[str]], refs: list[list[str]]) -> None:
    assert corpus_bleu(hyps, refs) == pytest.approx(multi_bleu_by_hand(hyps, refs))


def test_corpus_bleu_sums_counts_before_averaging() -> None:
    hyps = [ONE_OFF, ["x", "y", "z", "w"]]
    refs = [GOLD, ["x", "y", "z", "w"]]
    by_hand = 100 * (11 / 12 * 8 / 10 * 5 / 8 * 2 / 6) ** 0.25
    assert corpus_bleu(hyps, refs) == pytest.approx(by_hand)
    mean_of_sentences = (corpus_bleu(hyps[:1], refs[:1]) + corpus_bleu(hyps[1:], refs[1:])) / 2
    assert corpus_bleu(hyps, refs) != pytest.approx(mean_of_sentences)


def test_empty_prediction_contributes_nothing() -> None:
    golds = [GOLD, ["x", "y"]]
    assert edit_distance_score([[], ["x", "y"]], golds) == pytest.approx(100 * (1 - 8 / 10))
    assert corpus_bleu([[], []], golds) == 0.0
    assert token_match_rate([[], ["x", "y"]], golds) == 50.0


def test_token_edit_distance() -> None:
    assert token_edit_distance(["a", "x", "c"], ["a", "b", "c"]) == 1
    assert token_edit_distance([], ["a", "b"]) == 2
    assert token_edit_distance(["\\alpha"], ["\\beta"]) == 1  # tokens, not characters


def test_edit_score_weighs_by_length() -> None:
    long_gold = ["t"] * 100
    preds = [long_gold, ["u"]]
    golds = [long_gold, ["t"]]
    assert edit_distance_score(preds, golds) == pytest.approx(100 * (1 - 1 / 101))


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError, match="2 predictions for 1 gold"):
        corpus_bleu([GOLD, GOLD], [GOLD])
