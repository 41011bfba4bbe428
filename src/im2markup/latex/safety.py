"""Refuse formulas that could make TeX touch files, run programs or redefine its own reading.

Formulas come from users and from scraped sources, and the renderer hands them to pdflatex
(which also runs without shell escape and with paranoid file access). The first line is the
allow-list (`allow_list`); this word list is the second, should anything get past it. A
formula is refused when it names a primitive or macro that reads or writes files,
runs programs, changes category codes, defines or aliases commands (which can hide any of the
former or loop forever), builds command names at run time, changes fonts or registers
globally (which would alter the formulas typeset after it in the same batch), or writes a
`^^` escape (TeX turns `^^5c` into a backslash, so escapes can spell any of them).
Environment names are checked as well, since `\\begin{input}` runs `\\input` and
`\\end{input}` runs `\\endinput`.

The check is lexical and deliberately strict: it looks at every control word, comments
included, because a `%` can be neutralized by a catcode change elsewhere.
"""

from __future__ import annotations

import re

MAX_FORMULA_CHARS = 10_000

_FILES = "reads or writes files"
_SHELL = "runs programs or Lua"
_CATCODES = "changes how TeX reads characters"
_DEFINITIONS = "defines or redefines commands"
_NAMES = "builds command names at run time"
_DOCUMENT = "belongs to the document, not to a formula"
_STATE = "changes fonts or registers for the formulas typeset after it"


def _because(why: str, names: str) -> dict[str, str]:
    return dict.fromkeys(names.split(), why)


FORBIDDEN: dict[str, str] = {
    **_because(
        _FILES,
        "input include includeonly InputIfFileExists IfFileExists includegraphics openin "
        "openout closein closeout read readline write immediate endinput newread newwrite "
        "typein jobname verbatiminput lstinputlisting pdffilemoddate pdffilesize "
        "pdfmdfivesum pdffiledump filemoddate filesize mdfivesum filedump pdfobj pdfliteral "
        "special fontfamily fontencoding usefont selectfont pagenumbering bibliography "
        "bibliographystyle addtocontents addcontentsline tableofcontents listoffigures "
        "listoftables makeindex index glossary nofiles",
    ),
    **_because(_SHELL, "directlua latelua luaexec luadirect shellescape"),
    **_because(
        _CATCODES,
        "catcode lccode uccode sfcode mathcode delcode endlinechar newlinechar escapechar "
        "makeatletter makeatother everyjob everymath everydisplay everyhbox everyvbox "
        "everypar everycr everyeof",
    ),
    **_because(
        _DEFINITIONS,
        "def edef gdef xdef let futurelet newcommand renewcommand providecommand "
        "DeclareRobustCommand DeclareMathOperator DeclareMathSymbol DeclareMathAlphabet "
        "DeclareSymbolFont DeclareTextFontCommand newenvironment renewenvironment "
        "NewDocumentCommand RenewDocumentCommand ProvideDocumentCommand "
        "DeclareDocumentCommand NewDocumentEnvironment RenewDocumentEnvironment "
        "globaldefs afterassignment aftergroup output shipout NewCommandCopy "
        "NewExpandableDocumentCommand RenewExpandableDocumentCommand "
        "ProvideExpandableDocumentCommand DeclareExpandableDocumentCommand newcounter "
        "newtheorem chardef mathchardef countdef dimendef skipdef toksdef muskipdef",
    ),
    **_because(
        _STATE,
        "global fontdimen font textfont scriptfont scriptscriptfont hyphenchar skewchar "
        "pdfximage pdfrefximage pdfmapfile pdfmapline",
    ),
    **_because(
        _NAMES,
        "csname endcsname expandafter scantokens uppercase lowercase pdfprimitive primitive "
        "ExplSyntaxOn UseName",
    ),
    **_because(
        _DOCUMENT,
        "documentclass usepackage RequirePackage AtBeginDocument AtEndDocument dump "
        "batchmode nonstopmode scrollmode errorstopmode",
    ),
}
# Environments that write files or belong to the enclosing document.
FORBIDDEN_ENVIRONMENTS = frozenset({"document", "filecontents", "filecontents*"})

# `\renewcommand{\arraystretch}{1.2}` (row spacing of arrays) is common in arXiv formulas and
# harmless: it sets a number, inside the formula's group.
ARRAYSTRETCH_SETTING = re.compile(
    r"\\renewcommand\s*(?:\{\s*\\arraystretch\s*\}|\\arraystretch)\s*\{[0-9.\s]+\}"
)
_CONTROL_WORD = re.compile(r"\\([A-Za-z]+)")
_ENVIRONMENT = re.compile(r"\\(begin|end)\s*\{\s*([^{}]*?)\s*\}")


def check_formula(formula: str, max_chars: int = MAX_FORMULA_CHARS) -> str | None:
    """Why `formula` must not reach TeX, or None when it is safe to typeset."""
    if len(formula) > max_chars:
        return f"formula has {len(formula)} characters, more than {max_chars}"
    if "^^" in formula:
        return "^^ character escapes are not allowed: they can spell any command"
    if "\x00" in formula:
        return "formula contains a NUL character"
    text = ARRAYSTRETCH_SETTING.sub(" ", formula)
    for match in _CONTROL_WORD.finditer(text):
        reason = FORBIDDEN.get(match.group(1))
        if reason:
            return f"\\{match.group(1)} is not allowed: it {reason}"
    for kind, name in _ENVIRONMENT.findall(text):
        if name in FORBIDDEN_ENVIRONMENTS:
            return f"environment {name} is not allowed: it {_DOCUMENT}"
        command = name if kind == "begin" else "end" + name
        if command in FORBIDDEN:
            why = FORBIDDEN[command]
            return f"\\{kind}{{{name}}} is not allowed: it runs \\{command}, which {why}"
    return None
