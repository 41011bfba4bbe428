"""Taking the first n-best entry that typesets, on real test formulas and the model's vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from im2markup.data.vocab import Vocab
from im2markup.model.base import Hypothesis
from im2markup.model.well_formed import first_well_formed

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def formulas(im2latex_dir: Path) -> list[str]:
    """Test formulas with a `\\left … \\right` pair and a braced group."""
    lines = (im2latex_dir / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    return [line for line in lines if "\\left(" in line and "\\right)" in line and "{" in line][:20]


@pytest.fixture(scope="module")
def vocab(formulas: list[str]) -> Vocab:
    return Vocab.build(formulas, min_count=1)


def _beam(vocab: Vocab, *texts: str) -> Hypothesis:
    """A beam result whose n-best are `texts`, most likely first (as the beam search returns)."""
    entries = [
        Hypothesis(token_ids=vocab.encode(text, add_bos_eos=False), score=-float(rank))
        for rank, text in enumerate(texts)
    ]
    return Hypothesis(entries[0].token_ids, entries[0].score, n_best=entries)


def _text(vocab: Vocab, hyp: Hypothesis) -> str:
    return " ".join(vocab.decode(hyp.token_ids))


def test_a_top_hypothesis_that_typesets_is_kept(formulas: list[str], vocab: Vocab):
    for gold in formulas:
        hyp = _beam(vocab, gold, gold.replace("\\right)", "", 1))
        assert first_well_formed(hyp, vocab) is hyp


def test_an_unpaired_right_or_unclosed_brace_gives_way_to_the_next_entry(
    formulas: list[str], vocab: Vocab
):
    assert formulas, "the test formulas should contain \\left( … \\right) pairs"
    for gold in formulas:
        for broken in (gold.replace("\\left(", "(", 1), gold.replace("}", "", 1)):
            hyp = _beam(vocab, broken, gold)
            chosen = first_well_formed(hyp, vocab)
            assert _text(vocab, chosen) == gold
            assert chosen.score == -1.0 and chosen.n_best == hyp.n_best


def test_the_top_is_kept_when_nothing_typesets(formulas: list[str], vocab: Vocab):
    gold = formulas[0]
    hyp = _beam(vocab, gold.replace("\\left(", "(", 1), gold.replace("}", "", 1))
    assert first_well_formed(hyp, vocab) is hyp
    greedy = Hypothesis(vocab.encode(gold.replace("}", "", 1), add_bos_eos=False), -0.5)
    assert first_well_formed(greedy, vocab) is greedy
