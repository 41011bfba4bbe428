from collections import Counter
from pathlib import Path

import pytest

from im2markup.data.corpus.cleaning import (
    Exclusions,
    FormulaList,
    PoolEntry,
    clean_raw,
    collect_pool,
    default_sources,
    loose_key,
    nospace_form,
)
from im2markup.data.corpus.closeness import (
    closeness,
    js_divergence,
    kl_divergence,
    length_histogram,
)
from im2markup.data.corpus.corpora import CORPORA, im2latex_split
from im2markup.data.corpus.recombine import CLASSES, Recombiner, recombine_pool
from im2markup.data.shards import formula_key
from im2markup.latex.normalizer import normalize


@pytest.fixture(scope="module")
def test_split(shared_dir: Path):
    return im2latex_split("test", shared_dir)


def test_raw_formulas_lose_labels_keep_the_window_and_known_commands() -> None:
    kept, reason = clean_raw(
        r"E = m c^2 + \frac{p^2}{2m} + V(x) - \lambda \phi^4 \label{eq:1} \nonumber"
    )
    assert kept == [r"E = m c^2 + \frac{p^2}{2m} + V(x) - \lambda \phi^4"] and reason is None
    assert clean_raw("a = b") == ([], "outside 40-1024 characters")
    assert clean_raw(r"\Ltext{V-Y} = \int d^4 x \, K(\Psi_0, \bar\Psi_0) + W(\Psi)") == (
        [],
        "unknown command",
    )
    first = r"a_1 + a_2 + a_3 + a_4 &=& b_1 + b_2 + b_3 + b_4"
    lines, _ = clean_raw(first + r" \\ " + first.replace("a", "c"))
    assert len(lines) == 2 and "&" not in lines[0]


@pytest.mark.shared_data
def test_exclusions_catch_test_formulas_in_any_spacing_or_form(test_split) -> None:
    exclusions = Exclusions({"test": [*test_split.norm, *test_split.nospace]})
    formula = test_split.norm[3]
    assert exclusions.match(formula) == "test"
    assert exclusions.match("".join(formula.split())) == "test"
    assert exclusions.match(nospace_form(formula)) == "test"
    assert exclusions.match(formula + " .") in ("test", "test-near")
    assert exclusions.match(formula.replace("{", "{ {", 1).replace("}", "} }", 1)) in (
        "test",
        "test-near",
    )
    assert exclusions.match("x ^ { 2 } + \\zeta _ { 1 2 3 4 5 } = \\Omega") is None


def test_loose_key_keeps_arrows_apart() -> None:
    assert loose_key(r"\left( a \right) .") == loose_key("( a )")
    assert loose_key(r"a \leftarrow b") != loose_key(r"a \rightarrow b")


@pytest.mark.shared_data
def test_pool_yields_add_up_and_exclude_test_and_duplicates(shared_dir, test_split) -> None:
    planted = [("planted:0", test_split.norm[0]), ("planted:1", test_split.norm[0])]
    sources = [CORPORA[0], FormulaList("planted", planted, normalized=True)]
    exclusions = Exclusions({"test": test_split.norm[:50]})
    pool, yields = collect_pool(sources, exclusions, root=shared_dir, limit=300)
    hepth = yields["arxiv-hepth"]
    assert hepth.raw == 300
    assert (
        hepth.cleaned
        + hepth.removed["outside 40-1024 characters"]
        + hepth.removed["unknown command"]
        + hepth.removed["empty"]
        >= 300
    )
    dropped = sum(
        v
        for k, v in hepth.removed.items()
        if k not in ("outside 40-1024 characters", "unknown command", "empty")
    )
    assert hepth.cleaned == hepth.unique + dropped
    assert yields["planted"].removed["equals test"] == 2 and yields["planted"].unique == 0
    keys = [formula_key(e.formula) for e in pool]
    assert len(keys) == len(set(keys)) == hepth.unique
    assert all(normalize(e.formula).text == e.formula for e in pool[:50])


@pytest.mark.shared_data
def test_recombination_keeps_classes_and_statistics(shared_dir, test_split) -> None:
    val = im2latex_split("val", shared_dir)
    recombiner = Recombiner(val.norm[:2000], seed=1, substitute=1.0)
    formula = r"\mathrm { d i a g } ( x _ { 1 } , \alpha ) \leq B"
    tokens = formula.split()
    changed = recombiner.substitute_symbols(tokens)
    assert changed[:6] == tokens[:6]
    for before, after in zip(tokens, changed, strict=True):
        for members in CLASSES.values():
            if before in members:
                assert after in members
    pool = [PoolEntry("val", f, f"val:{k}") for k, f in enumerate(val.norm[:2000])]
    exclusions = Exclusions({"test": test_split.norm})
    made, counts = recombine_pool(pool, 500, exclusions, None, seed=3)
    assert len(made) == 500 and counts.rendered == 500
    original = {formula_key(e.formula) for e in pool}
    assert all(formula_key(e.formula) not in original for e in made)
    assert all(exclusions.match(e.formula) is None for e in made)
    rows = closeness({"recombined": [e.formula for e in made]}, val.norm[:2000])
    assert rows["recombined"]["token_js"] < 0.03 and rows["recombined"]["length_js"] < 0.05


def test_divergences_and_histograms() -> None:
    p = Counter({"a": 3, "b": 1})
    assert js_divergence(p, p) == pytest.approx(0.0)
    assert js_divergence(p, Counter({"c": 2})) == pytest.approx(1.0)
    assert kl_divergence(p, Counter({"a": 1, "b": 3})) > 0
    hist = length_histogram(["a b", "a " * 45, "x " * 300])
    assert sum(hist) == pytest.approx(1.0, abs=1e-3) and hist[0] > 0 and hist[-1] > 0


@pytest.mark.shared_data
def test_sources_can_leave_corpora_out_and_refuse_unknown_names(shared_dir) -> None:
    every = [s.name for s in default_sources(shared_dir, set())]
    assert every == ["im2latex-val", *(c.name for c in CORPORA)]
    chosen = default_sources(shared_dir, set(), corpora=("wikipedia", "arxiv-hepth"))
    assert [s.name for s in chosen] == ["im2latex-val", "arxiv-hepth", "wikipedia"]
    with pytest.raises(ValueError, match="unknown corpora wikipedias"):
        default_sources(shared_dir, set(), corpora=("wikipedias",))
