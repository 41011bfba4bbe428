"""Text metrics of the paper's evaluation, computed over a whole corpus of token sequences.

Both metrics compare the predicted and gold formulas as lists of normalized LaTeX tokens. A
missing prediction is an empty list (the paper's rule), so leaving an item out can only lower
a score.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein
from sacrebleu.metrics import BLEU

Tokens = Sequence[str]


def corpus_bleu(predictions: Sequence[Tokens], golds: Sequence[Tokens]) -> float:
    """Corpus BLEU-4 in percent, as the paper's `multi-bleu.perl` computes it.

    BLEU = BP · exp(¼ Σₙ log pₙ) with pₙ the clipped n-gram precision summed over the corpus
    (n = 1…4) and BP = min(1, exp(1 − r/c)) for r gold and c predicted tokens. No smoothing:
    a corpus without a single matching 4-gram scores 0, as in the Perl script. Tokens are
    joined by spaces and split again (`tokenize="none"`), so no token is altered; `force`
    silences sacrebleu's warning that tokenized input ends in " ." (ours always is).
    """
    _check_lengths(predictions, golds)
    if not golds:
        raise ValueError("BLEU of an empty corpus is undefined")
    scorer = BLEU(tokenize="none", smooth_method="none", force=True)
    hyps = [" ".join(tokens) for tokens in predictions]
    refs = [" ".join(tokens) for tokens in golds]
    return float(scorer.corpus_score(hyps, [refs]).score)


def token_edit_distance(prediction: Tokens, gold: Tokens) -> int:
    """Levenshtein distance between two token sequences (insert, delete, substitute cost 1)."""
    return int(Levenshtein.distance(list(prediction), list(gold)))


def edit_distance_score(predictions: Sequence[Tokens], golds: Sequence[Tokens]) -> float:
    """The paper's text edit score in percent: 100 · (1 − Σ Levenshtein / Σ max(len)).

    Sums run over the corpus, so long formulas weigh more than short ones, as in the paper.
    """
    _check_lengths(predictions, golds)
    distance = sum(token_edit_distance(p, g) for p, g in zip(predictions, golds, strict=True))
    longest = sum(max(len(p), len(g)) for p, g in zip(predictions, golds, strict=True))
    if longest == 0:
        raise ValueError("edit score of a corpus with only empty sequences is undefined")
    return 100.0 * (1.0 - distance / longest)


def token_match_rate(predictions: Sequence[Tokens], golds: Sequence[Tokens]) -> float:
    """Percentage of items whose token sequence equals the gold one exactly."""
    _check_lengths(predictions, golds)
    if not golds:
        raise ValueError("match rate of an empty corpus is undefined")
    same = sum(list(p) == list(g) for p, g in zip(predictions, golds, strict=True))
    return 100.0 * same / len(golds)


def _check_lengths(predictions: Sequence[Tokens], golds: Sequence[Tokens]) -> None:
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold formulas")
