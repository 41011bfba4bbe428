import gzip
import io
import tarfile
from pathlib import Path

import pytest

from im2markup.cli.main import main
from im2markup.data.corpus import sources as latex_sources
from im2markup.data.corpus.mining import (
    mine_documents,
    mine_sources,
    remove_labels,
    strip_comments,
    unknown_commands,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "mining"


def key(formula: str) -> str:
    return "".join(formula.split())


def test_paper_traps_yield_exactly_the_real_displays() -> None:
    report = mine_documents([(FIXTURES / "paper.tex").read_text(encoding="utf-8")])
    expected = [
        "E = m c^2",
        r"{\cal R}_{\mu\nu} - \frac{1}{2}g_{\mu\nu} {\cal R} = 8 \pi G T_{\mu\nu}",
        "a = b + c",
        "= d",
        r"\operatorname{Tr}M = 0",
        r"\left( \begin{array}{cc} 1 & 2 \\ 3 & 4 \end{array} \right)",
        r"\int_0^1 f(x)\, dx = F(1) - F(0)",
        "x = 1",
        "y = 2",
        "u = v",
        "p = q",
        "= r",
        "y = z",
    ]
    assert [key(f) for f in report.formulas] == [key(f) for f in expected]
    assert report.rejected == {"duplicate": 1, "macro with arguments": 1, "unknown command": 1}
    text = "\n".join(report.formulas)
    for trap in ("commented", "verbatim", "hidden", "unclosed", "label", "notag", "$"):
        assert trap not in text


def _bundle(tmp_path: Path) -> Path:
    path = tmp_path / "2301.00001.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(FIXTURES / "bundle" / "main.tex", arcname="paper/main.tex")
        tar.add(FIXTURES / "bundle" / "macros.tex", arcname="paper/macros.tex")
        evil = b"\\begin{equation} escaped = 1 \\end{equation}"
        info = tarfile.TarInfo("../evil.tex")
        info.size = len(evil)
        tar.addfile(info, io.BytesIO(evil))
        link = tarfile.TarInfo("paper/link.tex")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    return path


def test_bundle_is_read_in_memory_with_macros_from_its_input_files(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    single = tmp_path / "2301.00002.gz"
    single.write_bytes(gzip.compress((FIXTURES / "single.tex").read_bytes()))
    report = mine_sources([bundle, single], tmp_path / "out.txt")
    written = (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()
    assert written == report.formulas
    assert [key(f) for f in written] == [
        key(r"\partial_\mu J^\mu = 0"),
        key(r"{\cal L}_X \omega = d \iota_X \omega + \iota_X d \omega"),
        key(r"\sum_{n=0}^\infty a_n x^n"),
        key(r"+ \sum_{n=0}^\infty b_n x^n"),
    ]
    assert report.errors == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [bundle.name, single.name, "out.txt"]
    )


def test_macros_of_one_paper_do_not_leak_into_another(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "main.tex").write_text(
        "\\documentclass{article}\\def\\x{\\alpha}\\begin{document}$$\\x = 1$$\\end{document}"
    )
    (tmp_path / "b" / "main.tex").write_text(
        "\\documentclass{article}\\begin{document}$$\\x = 2$$\\end{document}"
    )
    report = mine_sources([tmp_path], tmp_path / "out.txt")
    assert report.formulas == ["\\alpha = 1"]
    assert report.rejected == {"unknown command": 1}


def test_unreadable_sources_are_reported_and_the_rest_is_mined(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 definitely not deflate data")
    report = mine_sources(
        [broken, tmp_path / "missing.tex", FIXTURES / "single.tex"], tmp_path / "out.txt"
    )
    assert len(report.formulas) == 2
    assert len(report.errors) == 2
    assert "broken.gz" in report.errors[0] and "gzip" in report.errors[0]
    assert "missing.tex: no such file" in report.errors[1]


def test_archive_limits_name_the_offending_member(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(latex_sources, "MAX_FILE_BYTES", 100)
    report = mine_sources([_bundle(tmp_path)], tmp_path / "out.txt")
    assert report.formulas == []
    assert "paper/main.tex" in report.errors[0] and "larger than 100" in report.errors[0]


def test_escaped_percent_and_line_breaks_before_comments() -> None:
    assert strip_comments("a \\% b % c\nd").split() == ["a", "\\%", "b", "d"]
    assert strip_comments("x \\\\% gone\ny").split() == ["x", "\\\\", "y"]
    assert strip_comments("\\verb|$$x$$| $$y$$").split() == ["$$y$$"]


def test_labels_with_nested_braces_and_tags_are_removed() -> None:
    assert remove_labels("a = b \\label{eq:{x}} \\tag*{3} \\nonumber c").split() == [
        "a",
        "=",
        "b",
        "c",
    ]
    assert "\\notags" in remove_labels("\\notags")


def test_unknown_commands_and_environments_are_named() -> None:
    assert unknown_commands(r"\alpha + \begin{array}{c} x \end{array} \, \{") == set()
    assert unknown_commands(r"\foo x \begin{myenv} y \end{myenv}") == {"\\foo", "{myenv}"}
    assert unknown_commands(r"\foo x", defined={"foo"}) == set()


def test_cli_writes_the_formulas(tmp_path: Path, capsys) -> None:
    out = tmp_path / "formulas.txt"
    assert main(["data", "mine", str(FIXTURES / "single.tex"), "-o", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    assert "2 formulas kept" in capsys.readouterr().err


@pytest.mark.parametrize("closer", ["$$", "\\]"])
def test_display_cut_by_a_paragraph_is_not_a_formula(closer: str) -> None:
    opener = "$$" if closer == "$$" else "\\["
    report = mine_documents([f"{opener} a = 1\n\nb {closer} text"])
    assert report.formulas == []


def test_self_referencing_macros_neither_explode_nor_pass() -> None:
    text = "\\def\\a{\\a\\a\\a\\a}\n" + "$$ x = \\a + y_1 + y_2 + y_3 $$\n" * 200
    report = mine_documents([text])
    assert report.formulas == []
    assert report.rejected == {"unknown command": 200}
