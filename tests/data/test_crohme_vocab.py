"""CROHME tokens ↔ normalized LaTeX on every CROHME caption, and the CROHME decoding mask."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from im2markup.data.handwriting.crohme import (
    CROHME_TOKENS,
    NORMALIZED_CROHME_TOKENS,
    canonical_crohme,
    crohme_mask,
    from_normalized,
    to_normalized,
)
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TRAIN_CAPTIONS, read_captions
from im2markup.data.vocab import EOS_ID, Vocab
from im2markup.latex.normalizer import normalize


@pytest.fixture(scope="module")
def captions(shared_dir: Path) -> list[tuple[str, list[str]]]:
    return read_captions(shared_dir / TRAIN_CAPTIONS) + read_captions(shared_dir / TEST_CAPTIONS)


def _split(text: str) -> list[str]:
    return text.split()


def _superscript_before_subscript(tokens: list[str]) -> bool:
    """Whether some `^ {…}` is directly followed by `_` (counted by brace depth, not the code)."""
    for i, token in enumerate(tokens):
        if token == "^" and tokens[i + 1] == "{":
            depth = 0
            for j in range(i + 1, len(tokens)):
                depth += {"{": 1, "}": -1}.get(tokens[j], 0)
                if depth == 0:
                    if j + 1 < len(tokens) and tokens[j + 1] == "_":
                        return True
                    break
    return False


@pytest.mark.shared_data
def test_token_set_is_the_crohme_dictionary(shared_dir: Path) -> None:
    lines = (shared_dir / "crohme" / "dictionary.txt").read_text(encoding="utf-8").splitlines()
    listed = {line.split("\t")[0] for line in lines if line.strip()} - {"<eol>"}
    assert len(CROHME_TOKENS) == len(set(CROHME_TOKENS)) == 110
    assert set(CROHME_TOKENS) == listed


@pytest.mark.shared_data
def test_every_caption_round_trips(captions: list[tuple[str, list[str]]]) -> None:
    assert len(captions) == 9821
    identical, reordered = 0, []
    for sample_id, tokens in captions:
        back = from_normalized(to_normalized(tokens))
        assert back == canonical_crohme(tokens), sample_id
        if back == tokens:
            identical += 1
        else:
            reordered.append(sample_id)
            # The only change allowed: a superscript written before its subscript is swapped.
            assert _superscript_before_subscript(tokens), sample_id
            assert sorted(back) == sorted(tokens), sample_id
    # Counted independently: 36 captions write `^ {…} _ {…}`; every other one comes back as is.
    assert len(reordered) == 36
    assert identical == 9821 - 36


@pytest.mark.shared_data
def test_mapping_agrees_with_the_project_normalizer(captions: list[tuple[str, list[str]]]) -> None:
    """Read as LaTeX, every caption normalizes to exactly what `to_normalized` gives."""
    for sample_id, tokens in captions:
        normalized = normalize(" ".join(tokens))
        assert normalized.error is None, (sample_id, normalized.error)
        assert normalized.text.split() == to_normalized(tokens), sample_id


@pytest.mark.shared_data
def test_normalized_tokens_are_im2latex_tokens(
    captions: list[tuple[str, list[str]]], im2latex_dir: Path
) -> None:
    """The normalized captions use the IM2LATEX-100K normalized vocabulary, plus two symbols
    CROHME writes that no IM2LATEX validation formula happens to use."""
    known = set()
    for line in (im2latex_dir / "formulas" / "val.formulas.norm.txt").open(encoding="utf-8"):
        known.update(line.split())
    used = {token for _, tokens in captions for token in to_normalized(tokens)}
    assert used <= NORMALIZED_CROHME_TOKENS
    assert used - known == {r"\limits", r"\div"}


def test_function_names_are_spelled_out() -> None:
    tokens = _split(r"\lim _ { x \rightarrow 0 } \frac { \sin x } { x } = \log e")
    assert to_normalized(tokens) == _split(
        r"\operatorname* { l i m } _ { x \rightarrow 0 } \frac { \operatorname { s i n } x } "
        r"{ x } = \operatorname { l o g } e"
    )


def test_scripts_are_reordered_inside_groups() -> None:
    tokens = _split(r"\sqrt { A ^ { 2 } _ { k } } ^ { n } _ { i ^ { 2 } _ { j } }")
    assert to_normalized(tokens) == _split(
        r"\sqrt { A _ { k } ^ { 2 } } _ { i _ { j } ^ { 2 } } ^ { n }"
    )


def test_aliases_of_a_general_model_map_to_crohme_symbols() -> None:
    predicted = _split(r"\left( x \le y \right) \to \operatorname { l i m } \lbrace \dots \rbrace")
    assert from_normalized(predicted) == _split(r"( x \leq y ) \rightarrow \lim \{ \ldots \}")


def test_other_tokens_survive_from_normalized() -> None:
    tokens = _split(r"\mathrm { d } \zeta")
    assert from_normalized(tokens) == tokens


def test_unknown_crohme_token_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\\zeta"):
        to_normalized(["x", r"\zeta"])


def test_mask_allows_only_crohme_tokens_and_eos() -> None:
    vocab = Vocab([r"\operatorname", "{", "s", "i", "n", "}", r"\zeta", r"\mathrm", "x", "^"])
    mask = crohme_mask(vocab)
    assert mask.dtype == torch.bool and mask.shape == (len(vocab),)
    allowed = {vocab.itos[i] for i in range(len(vocab)) if mask[i]}
    assert allowed == {"<eos>", r"\operatorname", "{", "s", "i", "n", "}", "x", "^"}
    assert mask[EOS_ID]
