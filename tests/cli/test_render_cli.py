"""`im2markup render FORMULAS OUT_DIR`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from im2markup.cli.main import main
from im2markup.data.handwriting.render import render_handwritten


@pytest.mark.latex
def test_render_writes_pngs_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    formulas = tmp_path / "formulas.txt"
    formulas.write_text("x^{2}\n\\nosuchcommand\n\n\\frac{1}{2}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["render", str(formulas), str(out), "--style", "shared"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "3.png"]
    errors = (out / "errors.tsv").read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[0] for line in errors] == ["1", "2"]
    assert "not a math command" in errors[0] and "empty formula" in errors[1]
    assert "rendered 2 of 4 formulas" in capsys.readouterr().err
    processed = Image.open(out / "3.png")
    assert processed.mode == "L"

    full = tmp_path / "full"
    assert (
        main(["render", str(formulas), str(full), "--style", "shared", "--full", "--workers", "1"])
        == 0
    )
    full_height = Image.open(full / "3.png").height
    assert 2 * processed.height - 1 <= full_height + 16 <= 2 * processed.height


def test_render_reports_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["render", str(tmp_path / "missing.txt"), str(tmp_path / "out")]) == 2
    assert "missing.txt" in capsys.readouterr().err


@pytest.mark.latex
def test_render_rejects_an_unknown_style(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    formulas = tmp_path / "formulas.txt"
    formulas.write_text("x\n", encoding="utf-8")
    assert main(["render", str(formulas), str(tmp_path / "out"), "--style", "nope"]) == 2
    assert "unknown style 'nope'" in capsys.readouterr().err


def _handwriting_fonts_installed() -> bool:
    from im2markup.data.handwriting.fonts import available_fonts

    try:
        return bool(available_fonts())
    except (RuntimeError, OSError):
        return False


@pytest.mark.latex
@pytest.mark.skipif(
    shutil.which("xelatex") is None or not _handwriting_fonts_installed(),
    reason="xelatex or the handwriting fonts are not installed",
)
def test_render_handwritten_style(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    formulas = ["x ^ { 2 } + 1", "\\frac { a } { b }"]
    path = tmp_path / "formulas.txt"
    path.write_text("\n".join(formulas) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["render", str(path), str(out), "--style", "handwritten"]) == 0
    assert "rendered 2 of 2 formulas" in capsys.readouterr().err
    expected = render_handwritten(formulas, seed=0)
    for k, result in enumerate(expected):
        assert result.image is not None, result.error
        pixels = np.asarray(Image.open(out / f"{k}.png"))
        assert np.array_equal(pixels, np.asarray(result.image))
        assert pixels.min() < 64 and np.mean(pixels > 192) > 0.5


def test_render_refuses_thin_handwriting(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "formulas.txt"
    path.write_text("x\n", encoding="utf-8")
    assert (
        main(["render", str(path), str(tmp_path / "out"), "--style", "handwritten", "--thin"]) == 2
    )
    assert "handwritten style" in capsys.readouterr().err
