"""Rendering real formulas with pdflatex and Ghostscript."""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from im2markup.data.formula_images import render_formulas
from im2markup.data.images.preprocess import CODE_BUCKETS, pad_to_bucket
from im2markup.data.render import renderer as renderer_module
from im2markup.data.render.compile import compile_batch, run_bounded
from im2markup.data.render.templates import get_style
from im2markup.metrics.image_match import compare_images

pytestmark = pytest.mark.latex

GOOD = [r"x^2+y^2=z^2", r"\frac{a}{b+c}", r"\sum_{i=1}^{n} i^{2}", r"\sqrt{2}", r"e^{i\pi}+1=0"]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


@pytest.mark.shared_data
def test_shared_style_matches_the_shared_images(im2latex_dir: Path) -> None:
    lines = (im2latex_dir / "formulas" / "val.formulas.nospace.txt").read_text().splitlines()
    indices = [0, 1, 2, 3, 4, 5, 6]
    results = render_formulas([lines[k] for k in indices], style="shared")
    with tarfile.open(im2latex_dir / "images_val.tar") as tar:
        golds = {
            Path(m.name).name: Image.open(io.BytesIO(tar.extractfile(m).read())).convert("L")
            for m in tar
            if Path(m.name).name in {f"{k}.png" for k in indices}
        }
    for k, result in zip(indices, results, strict=True):
        assert result.image is not None, result.error
        gold = golds[f"{k}.png"]
        assert compare_images(gold, result.image).match, k
        assert pad_to_bucket(result.image, CODE_BUCKETS).size == gold.size, k


def test_bad_formulas_fail_alone_and_say_why() -> None:
    bad = {
        r"\foo + b": "not a math command",
        r"a^{": "unbalanced braces",
        r"\input{/etc/passwd}": "input",
        r"\begin{array}{*{99999999}{c}} x \end{array}": "did not finish",
        r"a^b^c": "Double superscript",
        r"\hline x": "Misplaced \\noalign",
        r"\iftrue x": "not a math command",
    }
    formulas = []
    for k, formula in enumerate(bad):
        formulas += [GOOD[k % len(GOOD)], formula]
    formulas += GOOD
    results = render_formulas(formulas, style="paper", timeout=2)
    assert [r.index for r in results] == list(range(len(formulas)))
    alone = {f: r.image for f, r in zip(GOOD, render_formulas(GOOD), strict=True)}
    for formula, result in zip(formulas, results, strict=True):
        if formula in bad:
            assert result.image is None and bad[formula] in result.error, (formula, result.error)
        else:
            assert result.error is None, (formula, result.error)
            assert np.array_equal(pixels(result.image), pixels(alone[formula])), formula


def test_tex_runs_in_the_callers_session(tmp_path: Path) -> None:
    """A new session would escape the caller's nice level under autogroup scheduling."""
    finished = run_bounded(["sh", "-c", "ps -o sid= -p $$"], tmp_path, timeout=10)
    assert int(finished.stdout) == os.getsid(0) and not finished.timed_out


def test_tex_does_not_outlive_a_killed_caller(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"echo $$ > {pid_file}; exec sleep 60"
    caller = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from im2markup.data.render.compile import run_bounded; "
            "run_bounded(['sh', '-c', sys.argv[1]], Path(sys.argv[2]), timeout=1.0)",
            script,
            str(tmp_path),
        ]
    )
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    caller.kill()
    caller.wait()
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, "the command outlived its killed caller"
        time.sleep(0.1)


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "survivor"
    script = f"(sleep 2; touch {marker}) & sleep 30"
    started = time.monotonic()
    finished = run_bounded(["sh", "-c", script], tmp_path, timeout=0.5)
    assert finished.timed_out and time.monotonic() - started < 5
    time.sleep(2.5)
    assert not marker.exists()


def test_runaway_formula_is_stopped_by_the_timeout(tmp_path: Path) -> None:
    runaway = r"x \begin{array}{*{99999999}{c}} x \end{array}"  # math, but a billion columns
    start = time.monotonic()
    [result] = render_formulas([runaway], timeout=1.0, cache_dir=tmp_path)
    assert time.monotonic() - start < 10
    assert result.image is None and "did not finish within" in result.error
    assert not list(tmp_path.rglob("*.err"))  # a timeout may pass next time: not cached


@pytest.mark.parametrize(
    ("formula", "reason"),
    [(r"\iftrue x", "group or conditional open"), (r"\begingroup x", "Missing \\endgroup")],
)
def test_a_formula_leaving_state_open_is_caught_behind_the_checks(
    tmp_path: Path, formula: str, reason: str
) -> None:
    """Should a formula get past the checks in Python, the group and conditional levels logged
    around every formula still stop one that would leave TeX's state open for the next."""
    log = compile_batch(get_style("paper"), [formula, "x"], tmp_path, "n", timeout=10, dpi=200)
    assert log.formulas[0].verdict == "error" and reason in log.formulas[0].reason
    assert log.formulas[1].verdict == "retry"


def test_tex_reads_no_file_outside_its_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "secret.tex").write_text("SECRET")
    for k, formula in enumerate([r"\input{/etc/passwd}", r"\input{../secret}"]):
        log = compile_batch(get_style("paper"), [formula, "x"], work, f"n{k}", timeout=10, dpi=200)
        assert log.pdf is None and log.suspect == 0
        assert "not found" in log.formulas[0].reason


@pytest.fixture
def plain_dir() -> Iterator[Path]:
    """A directory whose path TeX can spell (pytest's own hold underscores)."""
    path = Path("/tmp") / f"texguard{os.getpid()}x{time.monotonic_ns()}"
    path.mkdir()
    yield path
    shutil.rmtree(path)


def test_tex_writes_nothing_outside_and_runs_nothing_whatever_the_environment(
    plain_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Formulas past the lexical check still cannot escape: an inherited TEXMFOUTPUT does not
    open absolute paths, `\\openout` to `..` is refused, `\\write18` runs nothing."""
    work = plain_dir / "work"
    work.mkdir()
    (plain_dir / "secret.tex").write_text("SECRET")
    monkeypatch.setenv("TEXMFOUTPUT", str(plain_dir))
    formulas = [
        rf"\input{{{plain_dir}/secret}}",
        r"\immediate\openout1=../escaped.tex \immediate\write1{x}\immediate\closeout1 x",
        rf"\immediate\write18{{touch {plain_dir}/ran}} x",
    ]
    logs = [
        compile_batch(get_style("paper"), [formula, "x"], work, f"n{k}", timeout=10, dpi=200)
        for k, formula in enumerate(formulas)
    ]
    assert "not found" in logs[0].formulas[0].reason
    assert not (plain_dir / "escaped.tex").exists()
    assert not (plain_dir / "ran").exists()


def test_processed_image_is_the_padded_full_crop_halved() -> None:
    [full] = render_formulas([GOOD[1]], processed=False)
    [small] = render_formulas([GOOD[1]], processed=True)
    width, height = full.image.size
    assert small.image.size == (math.ceil((width + 16) / 2), math.ceil((height + 16) / 2))
    top, left = np.argwhere(pixels(small.image) <= 128).min(axis=0)
    assert 3 <= top <= 4 and 3 <= left <= 4  # the 8 px pad, halved


def test_paper_style_is_bigger_than_shared_style() -> None:
    [paper] = render_formulas([GOOD[0]], style="paper", processed=False)
    [shared] = render_formulas([GOOD[0]], style="shared", processed=False)
    ratio = paper.image.height / shared.image.height
    assert 1.1 < ratio < 1.3  # 12 pt against 10 pt


def test_default_strokes_are_bold_and_composited_strokes_thin() -> None:
    [bold] = render_formulas([GOOD[2]], processed=False)
    [thin] = render_formulas([GOOD[2]], processed=False, composited=True)
    assert set(np.unique(pixels(bold.image))) == {0, 255}
    assert len(np.unique(pixels(thin.image))) > 8
    assert (pixels(thin.image) <= 128).sum() < 0.9 * (pixels(bold.image) == 0).sum()


def test_formula_wider_than_the_line_is_not_clipped() -> None:
    half = " + ".join(f"x_{{{i}}}" for i in range(60))
    short, long = render_formulas([half, half + " + " + half], style="shared", processed=False)
    assert long.image.width > 1100  # the 10 pt line is 955 px at 200 dpi
    assert 1.9 < long.image.width / short.image.width < 2.1


def test_cache_serves_images_and_failures_without_tex(tmp_path: Path, monkeypatch) -> None:
    formulas = [GOOD[0], r"\foo", GOOD[0]]
    first = render_formulas(formulas, cache_dir=tmp_path)
    assert first[0].image is not None and first[2].image is not None and first[1].error

    def no_tex(*args, **kwargs):
        raise AssertionError("TeX ran although everything was cached")

    monkeypatch.setattr(renderer_module, "compile_batch", no_tex)
    second = render_formulas(formulas, cache_dir=tmp_path)
    assert np.array_equal(pixels(second[0].image), pixels(first[0].image))
    assert second[1].error == first[1].error


def standalone_render(formula: str, tmp_path: Path) -> np.ndarray:
    """The reference: one formula in `\\documentclass[preview]{standalone}`, 200 dpi, cropped."""
    tex = tmp_path / "one.tex"
    tex.write_text(
        "\\documentclass[preview]{standalone}\n\\begin{document}\n"
        f"    $$ {formula} $$\n\\end{{document}}\n"
    )
    subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-no-shell-escape", tex.name],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=True,
    )
    ghostscript = "gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pngalpha -r200"
    antialiasing = "-dTextAlphaBits=4 -dGraphicsAlphaBits=4 -sOutputFile=one.png one.pdf"
    subprocess.run(
        f"{ghostscript} {antialiasing}".split(),
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=True,
    )
    with Image.open(tmp_path / "one.png") as page:
        gray = np.asarray(page.convert("L"))  # alpha ignored, as for the shared images
    rows, cols = np.flatnonzero(gray.min(axis=1) < 255), np.flatnonzero(gray.min(axis=0) < 255)
    return gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def test_batch_pixels_equal_one_formula_standalone_documents(tmp_path: Path) -> None:
    formulas = [
        r"\int_{-\infty}^{\infty} e^{-x^{2}} d x = \sqrt{\pi}",
        r"x",
        r"\left( \begin{array}{cc} a & b \\ c & d \end{array} \right)",
        r"\frac{1}{2} \sum_{n=1}^{N} \frac{\partial^{2} \phi}{\partial x_{n}^{2}}",
        r"\hat{A}_{\mu}^{a} = g \bar{\psi} \gamma^{\mu} T^{a} \psi",
    ]
    results = render_formulas(formulas * 3, style="shared", processed=False)  # 15 on one sheet
    expected = [standalone_render(formula, tmp_path) for formula in formulas]
    for k, result in enumerate(results):
        assert np.array_equal(pixels(result.image), expected[k % len(formulas)]), k


def test_huge_formula_is_refused_before_rasterizing() -> None:
    huge, fine = render_formulas([r"\vrule width 100cm height 100cm", GOOD[0]], style="shared")
    assert huge.image is None and "too large to rasterize" in huge.error
    assert fine.image is not None
