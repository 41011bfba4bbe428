"""Render-verified pseudo-labels on real shared images: the verifier, the labelling pass with a
stub model whose answers we choose, resuming, the file format and what a build takes from it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from im2markup.cli.main import main
from im2markup.data.corpus.build import BuildOptions, build
from im2markup.data.corpus.cleaning import exclusions_for, nospace_form
from im2markup.data.corpus.corpora import im2latex_split, tar_images
from im2markup.data.corpus.pseudo_label_files import (
    done_images,
    is_pseudo_label_file,
    parse_line,
    pseudo_label_images,
    read_pseudo_labels,
    split_extra,
)
from im2markup.data.formula_images import render_formulas
from im2markup.data.shards import ShardReader
from im2markup.data.vocab import Vocab
from im2markup.latex.normalizer import normalize
from im2markup.metrics.image_match import compare_images
from im2markup.metrics.label_verifier import verify
from im2markup.model.base import Hypothesis
from im2markup.pseudo_label.labelling import (
    Labeller,
    Options,
    model_input,
    run_pass,
    unlabeled_images,
)
from serving_fixtures import save_random_model

# Validation formulas (space-stripped) with near misses: (text replaced, replacement).
NEAR_MISSES = {
    2: [("E ( v )", "E ( u )"), (" t .", " t"), ("=", "\\equiv"), ("\\forall", "\\exists")],
    4: [("+ 2 \\pi", "+ 3 \\pi"), ("x ^ { I } (", "x _ { I } ("), ("\\sigma +", "\\sigma -")],
    16: [
        ("\\alpha ^ { 2 }", "\\alpha ^ { 3 }"),
        ("{ a } } ,", "{ a } } ."),
        ("_ { c } ^ { 2 }", "_ { 2 } ^ { c }"),
    ],
    7: [("e ^ { 2 A }", "e ^ { 2 } A"), ("3 A / 2", "3 A / 3"), ("d r", "d x")],
}


def near_miss(formula: str, old: str, new: str) -> str:
    assert old in formula
    return formula.replace(old, new, 1)


@pytest.fixture(scope="module")
def val_case(shared_dir: Path) -> tuple[list[str], dict[int, bytes]]:
    """The nospace validation formulas and the shared images of the lines used here."""
    val = im2latex_split("val", shared_dir)
    wanted = {2, 4, 6, 7, 11, 16}
    return val.nospace, dict(tar_images(val.images, wanted))


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


@pytest.mark.latex
@pytest.mark.shared_data
def test_verifier_accepts_true_labels_and_rejects_near_misses(val_case, tmp_path) -> None:
    formulas, images = val_case
    wrong = [(k, near_miss(formulas[k], *c)) for k, changes in NEAR_MISSES.items() for c in changes]
    texts = [formulas[k] for k in NEAR_MISSES] + [text for _, text in wrong]
    renders = render_formulas(texts, "shared", cache_dir=tmp_path)
    assert all(r.image is not None for r in renders)
    for k, render in zip(NEAR_MISSES, renders, strict=False):
        verdict = verify(pixels(images[k]), render.image)
        assert verdict.accepted, (k, verdict)
    paper_accepts = 0
    for (k, text), render in zip(wrong, renders[len(NEAR_MISSES) :], strict=True):
        verdict = verify(pixels(images[k]), render.image)
        assert not verdict.accepted and verdict.reason, (k, text)
        paper_accepts += compare_images(pixels(images[k]), render.image).match
    # The paper's tolerant exact match would have taken most of them as correct.
    assert paper_accepts >= len(wrong) // 2


def test_verifier_refuses_missing_or_blank_renders() -> None:
    ink = np.full((20, 40), 255, dtype=np.uint8)
    ink[5:15, 5:30] = 0
    assert verify(ink, ink).accepted
    assert verify(ink, None).reason == "the label did not render"
    blank = np.full((20, 40), 255, dtype=np.uint8)
    assert verify(ink, blank).reason == "an image without ink"
    wider = np.full((20, 50), 255, dtype=np.uint8)
    wider[5:15, 5:35] = 0
    assert not verify(ink, wider).accepted


class StubModel(torch.nn.Module):
    """Answers each image with chosen hypotheses, found by the image's model input.

    `answers` maps the model input's bytes to (greedy tokens, beam n-best); `calls` records
    (beam size, number of images) of every decode.
    """

    def __init__(self, answers: dict[bytes, tuple[str, list[str]]], vocab: Vocab):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.answers, self.vocab = answers, vocab
        self.calls: list[tuple[int, int]] = []

    def decode(self, images: torch.Tensor, beam_size: int = 1, **_: object) -> list[Hypothesis]:
        self.calls.append((beam_size, len(images)))
        out = []
        for image in images:
            greedy, beam = self.answers[image[0].numpy().tobytes()]
            if beam_size == 1:
                out.append(Hypothesis(self.vocab.encode(greedy, add_bos_eos=False), -1.0))
                continue
            n_best = [
                Hypothesis(self.vocab.encode(text, add_bos_eos=False), -1.0 - rank)
                for rank, text in enumerate(beam)
            ]
            out.append(Hypothesis(n_best[0].token_ids, n_best[0].score, n_best=n_best))
        return out


@pytest.fixture()
def stub_pass(val_case, tmp_path):
    """A stub model that knows the truth of some validation images and not of others, the
    images as the pass reads them, and the labels the pass must keep."""
    formulas, images = val_case
    f = formulas
    wrong_4 = [near_miss(f[4], *change) for change in NEAR_MISSES[4][:2]]
    wrong_16 = [near_miss(f[16], *change) for change in NEAR_MISSES[16][:2]]
    plan = {
        2: (f[2], []),
        4: (wrong_4[0], [*wrong_4, f[4]]),
        16: (wrong_16[0], wrong_16),
        7: ("\\frac { d z", [f[7]]),
        11: (f[11], []),
        6: ("\\frac { d z", ["\\frac { d z", "{ {"]),
    }
    answers = {model_input(pixels(images[k])).tobytes(): answer for k, answer in plan.items()}
    vocab = Vocab(
        t for greedy, beam in plan.values() for text in [greedy, *beam] for t in text.split()
    )
    model = StubModel(answers, vocab)
    names = [(f"images_val/{k}.png", images[k]) for k in sorted(plan)]
    expected = {
        "images_val/2.png": (normalize(f[2]).text, "greedy"),
        "images_val/4.png": (normalize(f[4]).text, "beam-3"),
        "images_val/7.png": (normalize(f[7]).text, "beam-1"),
        "images_val/11.png": (normalize(f[11]).text, "greedy"),
    }
    options = Options(render_cache=tmp_path / "renders", progress=False, chunk=4)
    return Labeller(model, vocab, options), model, names, expected, options


@pytest.mark.latex
@pytest.mark.shared_data
def test_pass_keeps_exactly_the_labels_whose_render_matches(stub_pass, tmp_path) -> None:
    decoder, model, images, expected, options = stub_pass
    out = tmp_path / "labels.tsv"
    report = run_pass(decoder, images, out, options)
    labels = {label.image: (label.formula, label.how) for label in read_pseudo_labels(out)}
    assert labels == expected
    assert report.images == 6 and sum(report.verified.values()) == 4
    assert report.refused == {"render does not match": 1, "does not parse": 1}
    # Beam search only for the four images greedy decoding did not get right.
    assert sum(n for beam, n in model.calls if beam == 1) == 6
    assert sum(n for beam, n in model.calls if beam == decoder.beam_size) == 4
    done = dict(
        line.split("\t") for line in (tmp_path / "labels.tsv.done").read_text().splitlines()
    )
    assert done["images_val/16.png"] == "render does not match"
    assert done["images_val/6.png"] == "does not parse"
    assert report.as_dict()["verified_rate"] == pytest.approx(66.67)


@pytest.mark.latex
@pytest.mark.shared_data
def test_pass_resumes_where_it_stopped(stub_pass, tmp_path) -> None:
    decoder, model, images, expected, options = stub_pass
    out = tmp_path / "labels.tsv"
    first = run_pass(decoder, images, out, options, limit=3)
    assert (first.images, first.skipped) == (3, 0)
    calls_before = sum(n for beam, n in model.calls if beam == 1)
    # A kill in the middle of a line leaves half a line; it is dropped on the next start.
    with out.open("a", encoding="utf-8") as handle:
        handle.write("images_val/11.png\t\\alpha")
    second = run_pass(decoder, images, out, options)
    assert (second.images, second.skipped) == (3, 3)
    assert sum(n for beam, n in model.calls if beam == 1) - calls_before == 3
    assert all(parse_line(line) for line in out.read_text().splitlines())
    labels = {label.image: (label.formula, label.how) for label in read_pseudo_labels(out)}
    assert labels == expected
    assert len(out.read_text().splitlines()) == 4
    assert done_images(out) == {name for name, _ in images}
    third = run_pass(decoder, images, out, options)
    assert (third.images, third.skipped) == (0, 6)


def test_pass_reports_an_unreadable_image_and_goes_on(tmp_path) -> None:
    class NeverCalled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))

        def decode(self, *_: object, **__: object) -> list[Hypothesis]:
            raise AssertionError("nothing to decode")

    options = Options(render_cache=tmp_path / "renders", progress=False)
    decoder = Labeller(NeverCalled(), Vocab([]), options)
    out = tmp_path / "labels.tsv"
    report = run_pass(decoder, [("x/1.png", b"not a png"), ("x/2.png", b"")], out, options)
    assert report.images == 2 and report.refused == {"unreadable image": 2}
    assert done_images(out) == {"x/1.png", "x/2.png"}
    assert out.read_text() == ""


@pytest.mark.shared_data
def test_unlabeled_images_come_in_training_list_order(shared_dir: Path) -> None:
    base = shared_dir / "im2latex100k"
    tars = [base / f"images_train_unlabeled_{i}.tar" for i in range(4)]
    first = []
    for name, png in unlabeled_images(tars):
        first.append(name)
        assert png.startswith(b"\x89PNG")
        if len(first) == 6:
            break
    assert first == [f"images_train_unlabeled_{k % 4}/{k}.png" for k in range(6)]


def test_file_format_is_recognized_and_bad_lines_are_errors(tmp_path) -> None:
    good = tmp_path / "labels.tsv"
    good.write_text("a/1.png\tx ^ { 2 }\tgreedy\na/2.png\ty\tbeam-3\na/1.png\tz\tgreedy\n")
    raw = tmp_path / "raw.txt"
    raw.write_text("x^2 + y^2 = z^2\n")
    assert is_pseudo_label_file(good) and not is_pseudo_label_file(raw)
    assert split_extra([raw, good]) == ([raw], [good])
    assert [(p.image, p.how) for p in read_pseudo_labels(good)] == [
        ("a/1.png", "greedy"),
        ("a/2.png", "beam-3"),
    ]
    for bad in ("a/1.png\tx\tbeam-0", "a/1.png\tx", "1.png\tx\tgreedy", "a/1.png\t \tgreedy"):
        assert parse_line(bad) is None
    broken = tmp_path / "broken.tsv"
    broken.write_text("a/1.png\tx\tgreedy\na/2.png\ty\n")
    with pytest.raises(ValueError, match=r"broken\.tsv:2"):
        read_pseudo_labels(broken)


@pytest.mark.shared_data
def test_build_takes_only_test_free_unlabeled_images(shared_dir: Path, tmp_path) -> None:
    test = im2latex_split("test", shared_dir)
    labels = tmp_path / "labels.tsv"
    labels.write_text(
        "images_train_unlabeled_0/0.png\t\\alpha + \\beta = \\gamma ^ { 2 }\tgreedy\n"
        f"images_train_unlabeled_1/1.png\t{test.norm[0]}\tgreedy\n"
        "images_val/3.png\ta + b\tgreedy\n"
        "images_train_unlabeled_0/999999.png\ta + b\tbeam-2\n"
        "images_train_unlabeled_2/2.png\tx \\, y\tbeam-1\n"
    )
    items = list(pseudo_label_images([labels], exclusions_for(shared_dir, set()), shared_dir))
    dropped = {item.ref: item.dropped for item in items if item.dropped}
    assert dropped == {
        "images_train_unlabeled_1/1.png": "equals test",
        "images_val/3.png": "not an unlabeled image",
        "images_train_unlabeled_0/999999.png": "image not found",
    }
    kept = {item.ref: item for item in items if not item.dropped}
    originals = dict(tar_images(shared_dir / "im2latex100k" / "images_train_unlabeled_0.tar", {0}))
    assert kept["images_train_unlabeled_0/0.png"].png == originals[0]
    assert kept["images_train_unlabeled_2/2.png"].label == nospace_form("x \\, y") == "x y"
    assert kept["images_train_unlabeled_2/2.png"].alt == "x \\, y"


@pytest.mark.latex
@pytest.mark.shared_data
def test_build_adds_pseudo_labels_to_pool_and_train_split(shared_dir: Path, tmp_path) -> None:
    test = im2latex_split("test", shared_dir)
    labels = tmp_path / "pseudo.tsv"
    labels.write_text(
        "images_train_unlabeled_0/0.png\t\\alpha + \\beta = \\gamma ^ { 2 }\tgreedy\n"
        f"images_train_unlabeled_1/1.png\t{test.norm[0]}\tgreedy\n"
    )
    options = BuildOptions(
        shared=shared_dir,
        out=tmp_path / "data",
        extra=[labels],
        limit=6,
        target_formulas=0,
        render_cache=tmp_path / "renders",
        progress=False,
    )
    manifest = build(options)
    pool = (tmp_path / "data" / "pool.tsv").read_text().splitlines()
    mine = [line.split("\t") for line in pool if line.startswith("pseudo-label:")]
    assert mine == [
        [
            "pseudo-label:pseudo.tsv",
            "images_train_unlabeled_0/0.png",
            "\\alpha + \\beta = \\gamma ^ { 2 }",
        ]
    ]
    reader = ShardReader(tmp_path / "data" / "train")
    records = [reader.record(i) for i in range(len(reader))]
    images = [r for r in records if r.source == "pseudo-label" and r.style == "shared-image"]
    assert [(r.ref, r.label) for r in images] == [
        ("images_train_unlabeled_0/0.png", "\\alpha + \\beta = \\gamma ^ { 2 }")
    ]
    renders = [r.style for r in records if r.source == "pseudo-label:pseudo.tsv"]
    assert renders == ["shared"]
    assert {r.style for r in records if r.source.startswith("im2latex")} >= {"paper", "shared"}
    assert manifest["splits"]["train"]["dropped"]["shared-image: equals test"] == 1


@pytest.mark.latex
@pytest.mark.shared_data
def test_cli_runs_a_pass_with_a_random_model(
    shared_dir: Path, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("IM2MARKUP_CACHE", str(tmp_path / "cache"))
    base = shared_dir / "im2latex100k"
    model = save_random_model(tmp_path / "model", base / "formulas" / "val.formulas.norm.txt")
    out = tmp_path / "labels.tsv"
    argv = ["data", "pseudo-label", "--model", str(model), "--out", str(out), "--limit", "3"]
    assert main([*argv, "--images", str(base / "images_val.tar"), "--beam", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 3 and report["skipped_done_before"] == 0
    assert report["verified"] + sum(report["refused"].values()) == 3
    assert done_images(out) == {f"images_val/{k}.png" for k in range(3)}
    missing = ["data", "pseudo-label", "--model", str(tmp_path / "nothing"), "--out", str(out)]
    assert main(missing) == 2
