"""`im2markup normalize`: line in, line out, failures on stderr with their line number."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from im2markup.cli.main import main

FORMULAS = "x^2_i\n\\left( x\n\\sin x \\over 2\n\n{a}\n"


def test_file_in_lines_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "formulas.txt"
    source.write_text(FORMULAS, encoding="utf-8")
    assert main(["normalize", str(source)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split("\n") == [
        "x _ { i } ^ { 2 }",
        "",
        r"\frac { \operatorname { s i n } x } { 2 }",
        "",
        "{ a }",
        "",
    ]
    assert captured.err == "line 2: \\left without matching \\right\n"


def test_strict_fails_when_a_line_fails(tmp_path: Path, capsys) -> None:
    source = tmp_path / "formulas.txt"
    source.write_text(FORMULAS, encoding="utf-8")
    assert main(["normalize", "--strict", str(source)]) == 1
    source.write_text("a\nb\n", encoding="utf-8")
    assert main(["normalize", "--strict", str(source)]) == 0


def test_stdin_and_detokenize(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("x^2_i\n\\sin{a \\over b}\n"))
    assert main(["normalize", "--detokenize", "-"]) == 0
    assert capsys.readouterr().out == "x_{i}^{2}\n\\sin{\\frac{a}{b}}\n"


def test_undecodable_bytes_do_not_stop_the_run(tmp_path: Path, capsys) -> None:
    source = tmp_path / "formulas.txt"
    source.write_bytes(b"a\xff\nb\n")
    assert main(["normalize", str(source)]) == 0
    assert capsys.readouterr().out == "a \ufffd\nb\n"


def test_missing_file(tmp_path: Path, capsys) -> None:
    assert main(["normalize", str(tmp_path / "absent.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err
