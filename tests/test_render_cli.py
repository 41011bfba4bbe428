"""`im2markup render FORMULAS OUT_DIR`."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from im2markup.cli.main import main


@pytest.mark.latex
def test_render_writes_pngs_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    formulas = tmp_path / "formulas.txt"
    formulas.write_text("x^{2}\n\\nosuchcommand\n\n\\frac{1}{2}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["render", str(formulas), str(out), "--style", "shared"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "3.png"]
    errors = (out / "errors.tsv").read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[0] for line in errors] == ["1", "2"]
    assert "Undefined control sequence" in errors[0] and "empty formula" in errors[1]
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
