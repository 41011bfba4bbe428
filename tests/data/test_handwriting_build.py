"""`im2markup data build-handwritten`: pretraining formulas, CROHME splits, vocabulary, build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from im2markup.cli.main import main
from im2markup.data.corpus.build_handwritten import (
    HEAVY,
    HandwrittenOptions,
    build_handwritten,
    crohme_splits,
    handwritten_vocab,
)
from im2markup.data.corpus.cleaning import Exclusions, PoolEntry
from im2markup.data.corpus.pretrain_formulas import candidate, handwriting_form, rank
from im2markup.data.dataset import FormulaDataset, collate
from im2markup.data.handwriting.crohme import NORMALIZED_CROHME_TOKENS, to_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TRAIN_CAPTIONS, read_captions
from im2markup.data.handwriting.distort import Distortion
from im2markup.data.handwriting.fonts import available_fonts
from im2markup.data.handwriting.render import render_handwritten
from im2markup.data.shards import ShardReader, formula_key
from im2markup.data.vocab import UNK_ID, Vocab
from im2markup.training.config_files import load_config

IM2LATEX_FORMULAS = "im2latex100k/formulas"


def _normalized(captions: list[tuple[str, list[str]]]) -> list[str]:
    return [" ".join(to_normalized(tokens)) for _, tokens in captions]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    ("printed", "handwritten"),
    [
        (r"x _ \mathrm { m a x } \, = \; y", r"x _ { m a x } = y"),
        (r"{ \cal L } = \mathrm { d } x \quad \mathbf { v } \times \mathbf { x } _ { i }",
         r"L = d x v \times x _ { i }"),
        (r"\frac { a } \mathbf { b c } + \frac 1 \mathrm { d x } y",
         r"\frac { a } { b c } + \frac 1 { d x } y"),
        (r"\hat \mathbf { x y } + \sqrt [ 3 ] \mathrm { a b } \mathrm { c d }",
         r"\hat { x y } + \sqrt [ 3 ] { a b } c d"),
        (r"_ { \cal L } \mathrm { i f ~ } x", r"_ { L } i f x"),
    ],
)  # fmt: skip
def test_handwriting_form_drops_spacing_and_fonts_but_keeps_arguments_braced(
    printed: str, handwritten: str
) -> None:
    assert " ".join(handwriting_form(printed.split())) == handwritten


def test_crohme_only_formulas_take_the_crohme_spelling() -> None:
    entry = PoolEntry("corpus", r"a \le b , \left( x \right) \to \mathrm { e } ^ { 2 }", "c:1")
    item = candidate(entry)
    assert (item.label, item.outside) == (r"a \leq b , ( x ) \rightarrow e ^ { 2 }", 0)
    other = candidate(PoolEntry("corpus", r"\delta \le \mathcal { D } \,", "c:2"))
    assert (other.label, other.outside) == (r"\delta \le D", 2)


def test_rank_puts_crohme_only_formulas_first_and_leaves_out_what_it_must() -> None:
    pool = [
        PoolEntry("p", r"\delta x ^ { 2 } \omega", "p:0"),
        PoolEntry("p", r"\delta + 1", "p:1"),
        PoolEntry("p", r"a + b", "p:2"),
        PoolEntry("p", r"\frac { a } { b }", "p:3"),
        PoolEntry("p", r"a \, + \, b", "p:4"),
        PoolEntry("p", " ".join(["x"] * 81), "p:5"),
        PoolEntry("p", r"\unknown x", "p:6"),
        PoolEntry("p", r"c - d", "p:7"),
    ]
    vocabulary = set(NORMALIZED_CROHME_TOKENS) | {r"\delta", r"\omega"}
    exclusions = Exclusions({"crohme2014-test": [r"\frac { a } { b }"]})
    ranked, report = rank(pool, vocabulary, exclusions, seed=0)
    assert [item.entry.ref for item in ranked[2:]] == ["p:1", "p:0"]
    assert {item.entry.ref for item in ranked[:2]} == {"p:2", "p:7"}
    assert report["equals crohme2014-test"] == 1
    assert report["repeats a formula"] == 1
    assert report["empty or over 80 tokens"] == 1
    assert report["token outside the vocabulary"] == 1
    assert report["candidates crohme-only"] == 2


@pytest.mark.shared_data
def test_crohme_splits_remove_test_captions_and_hold_out_whole_formulas(shared_dir: Path) -> None:
    captions = read_captions(shared_dir / TRAIN_CAPTIONS)
    test_forms = _normalized(read_captions(shared_dir / TEST_CAPTIONS))
    test_keys = {formula_key(f) for f in test_forms}
    equal_to_test = sum(formula_key(f) in test_keys for f in _normalized(captions))
    assert equal_to_test == 58
    train, val, removed = crohme_splits(
        captions, Exclusions({"crohme2014-test": test_forms}), 0.1, seed=0
    )
    assert removed == {"equals crohme2014-test": equal_to_test}
    assert len(train) + len(val) == len(captions) - equal_to_test
    train_keys = {formula_key(c.normalized) for c in train}
    val_keys = {formula_key(c.normalized) for c in val}
    assert not train_keys & test_keys and not val_keys & test_keys
    assert not train_keys & val_keys
    assert len(val_keys) == round(0.1 * len(train_keys | val_keys))
    again, _, _ = crohme_splits(captions, Exclusions({"t": test_forms}), 0.1, seed=0)
    assert again == train


@pytest.mark.shared_data
def test_vocab_keeps_the_printed_order_and_adds_every_crohme_token(shared_dir: Path) -> None:
    printed = Vocab.build(_lines(shared_dir / IM2LATEX_FORMULAS / "val.formulas.norm.txt"))
    vocab = handwritten_vocab(printed)
    assert vocab.tokens[: len(printed.tokens)] == printed.tokens
    assert r"\limits" not in printed and r"\div" not in printed
    assert set(vocab.tokens) >= NORMALIZED_CROHME_TOKENS
    for caption in _normalized(read_captions(shared_dir / TRAIN_CAPTIONS)):
        assert UNK_ID not in vocab.encode(caption)


def _fonts_installed() -> bool:
    try:
        return bool(available_fonts())
    except (RuntimeError, OSError):
        return False


def _seed(part: int, copy: int) -> int:
    """The documented seed of a build's first chunk (build seed 0)."""
    return int(np.random.SeedSequence([0, part, copy, 0]).generate_state(1)[0])


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> dict:
    """A build from 11 real CROHME training captions (one equals a test caption) and a malformed
    one, and a printed pool of real validation formulas plus a CROHME and an IM2LATEX test one."""
    base = tmp_path_factory.mktemp("hw")
    shared = base / "shared"
    (shared / IM2LATEX_FORMULAS).mkdir(parents=True)
    (shared / "crohme").mkdir()
    (shared / TEST_CAPTIONS).symlink_to(shared_dir / TEST_CAPTIONS)
    for kind in ("norm", "nospace"):
        name = f"{IM2LATEX_FORMULAS}/test.formulas.{kind}.txt"
        (shared / name).symlink_to(shared_dir / name)
    train_lines = _lines(shared_dir / TRAIN_CAPTIONS)
    lines = [*train_lines[:10], train_lines[85], "broken-1\tx + \\delta"]
    (shared / TRAIN_CAPTIONS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    val_formulas = _lines(shared_dir / IM2LATEX_FORMULAS / "val.formulas.norm.txt")
    test_forms = _normalized(read_captions(shared_dir / TEST_CAPTIONS))
    im2latex_test = _lines(shared_dir / IM2LATEX_FORMULAS / "test.formulas.norm.txt")
    pool = [("val", f"val:{k}", f) for k, f in enumerate(val_formulas) if len(f.split()) <= 40]
    pool = [*pool[:4], ("x", "x:0", test_forms[0])]
    pool += [("x", "x:1", next(f for f in im2latex_test if len(f.split()) <= 40))]
    printed = base / "printed"
    printed.mkdir()
    (printed / "pool.tsv").write_text("".join(f"{s}\t{r}\t{f}\n" for s, r, f in pool))
    Vocab.build(val_formulas).save(printed / "vocab.txt")
    options = HandwrittenOptions(
        printed=printed,
        pretrain=3,
        crohme_renders=2,
        val_fraction=0.3,
        shared=shared,
        out=base / "hw",
        render_cache=base / "renders",
        progress=False,
    )
    manifests = build_handwritten(options)
    return {
        "out": base / "hw",
        "manifests": manifests,
        "captions": read_captions(shared / TRAIN_CAPTIONS)[:11],
        "pool": pool,
        "test_keys": {formula_key(f) for f in test_forms} | {formula_key(f) for f in im2latex_test},
    }


needs_handwriting = pytest.mark.skipif(
    shutil.which("xelatex") is None or not _fonts_installed(),
    reason="xelatex or the handwriting fonts are not installed",
)


def _assert_same_images(reader: ShardReader, rows: list[int], expected: list) -> None:
    for row, result in zip(rows, expected, strict=True):
        assert result.image is not None
        assert np.array_equal(reader.image(row), np.asarray(result.image))


@pytest.mark.latex
@pytest.mark.shared_data
@needs_handwriting
def test_crohme_images_are_the_drawings_of_their_labels(tiny_build: dict) -> None:
    """Every stored image equals `render_handwritten` of its own caption with the documented
    seed: labels, images and copies line up."""
    out, captions = tiny_build["out"], tiny_build["captions"]
    val = ShardReader(out / "crohme" / "val")
    val_ids = {ref.split(":", 1)[1] for ref in val.labels("ref")}
    train_captions = [(i, t) for i, t in captions if i not in val_ids and i != captions[10][0]]
    assert len(train_captions) == 10 - len(val_ids) >= 6 and val_ids
    forms = _normalized(train_captions)
    expected = {c: render_handwritten(forms, seed=_seed(1, c), distortion=HEAVY) for c in (0, 1)}
    train = ShardReader(out / "crohme" / "train")
    rows: dict[int, tuple[list[int], list]] = {0: ([], []), 1: ([], [])}
    for row in range(len(train)):
        record = train.record(row)
        caption_id, copy = record.ref.removeprefix("crohme-train:").split("#")
        k = [i for i, _ in train_captions].index(caption_id)
        assert record.label == forms[k]
        assert record.alt_label == " ".join(train_captions[k][1])
        assert record.style == "handwritten-heavy"
        rows[int(copy)][0].append(row)
        rows[int(copy)][1].append(expected[int(copy)][k])
    assert len(train) == 2 * len(train_captions) - sum(
        tiny_build["manifests"]["crohme"]["splits"]["train"]["dropped"].values()
    )
    for copy in (0, 1):
        _assert_same_images(train, *rows[copy])
    val_forms = val.labels()
    _assert_same_images(
        val,
        list(range(len(val))),
        render_handwritten(val_forms, seed=_seed(2, 0), distortion=Distortion()),
    )


@pytest.mark.latex
@pytest.mark.shared_data
@needs_handwriting
def test_pretrain_images_are_drawings_of_pool_formulas_without_test_ones(tiny_build: dict) -> None:
    out = tiny_build["out"]
    train = ShardReader(out / "pretrain" / "train")
    assert len(train) == 3
    pool = {ref: formula for _, ref, formula in tiny_build["pool"]}
    for row in range(len(train)):
        record = train.record(row)
        assert record.ref.startswith("val:") and record.alt_label == pool[record.ref]
        assert record.label == candidate(PoolEntry("val", pool[record.ref], record.ref)).label
    report = tiny_build["manifests"]["pretrain"]["pretrain_selection"]
    # The IM2LATEX test formula has `\,` spacing: its handwriting form equals it nearly.
    assert report["equals crohme2014-test"] == 1 and report["equals im2latex-test-near"] == 1
    copied, original = ShardReader(out / "pretrain" / "val"), ShardReader(out / "crohme" / "val")
    assert copied.labels() == original.labels()
    assert [copied.png(i) for i in range(len(copied))] == [
        original.png(i) for i in range(len(original))
    ]


@pytest.mark.latex
@pytest.mark.shared_data
@needs_handwriting
def test_no_test_formula_and_every_crohme_token_in_the_built_datasets(tiny_build: dict) -> None:
    out, test_keys = tiny_build["out"], tiny_build["test_keys"]
    for name in ("pretrain", "crohme"):
        vocab = Vocab.load(out / name / "vocab.txt")
        assert set(vocab.tokens) >= NORMALIZED_CROHME_TOKENS
        for split in ("train", "val"):
            labels = ShardReader(out / name / split).labels()
            assert labels and not {formula_key(label) for label in labels} & test_keys
            dataset = FormulaDataset(out / name / split, vocab)
            batch = collate([dataset[i] for i in range(min(4, len(dataset)))])
            assert batch["images"].dtype == torch.uint8 and not (batch["tgt"] == UNK_ID).any()
        manifest = json.loads((out / name / "manifest.json").read_text())
        assert manifest["test_labels_found"] == {"train": 0, "val": 0}
        removed = manifest["crohme_captions"]["removed"]
        assert removed == {"equals crohme2014-test": 1, "not CROHME tokens": 1}
    assert Vocab.load(out / "pretrain" / "vocab.txt") == Vocab.load(out / "crohme" / "vocab.txt")


def test_handwriting_configs_keep_the_small_architecture_and_read_the_built_datasets() -> None:
    small = load_config("small")
    pretrain, finetune = load_config("handwritten_pretrain"), load_config("handwritten_finetune")
    assert pretrain.model == small.model == finetune.model
    assert (pretrain.data.name, finetune.data.name) == ("hw-v1/pretrain", "hw-v1/crohme")
    assert pretrain.train.optimizer == "adamw" and finetune.train.lr < pretrain.train.lr
    assert finetune.train.max_steps < pretrain.train.max_steps


def test_cli_names_a_missing_printed_dataset(tmp_path: Path, capsys) -> None:
    argv = ["data", "build-handwritten", "--printed", str(tmp_path / "none")]
    assert main([*argv, "--out", str(tmp_path / "hw")]) == 2
    assert "pool.tsv is missing" in capsys.readouterr().err
