"""Display formulas extracted from LaTeX documents, the way IM2LATEX-100K was collected.

A document is read in four steps: comments, `verbatim`-like blocks and `\\iffalse … \\fi` are
dropped; author macros are collected and the argument-free ones expanded; display math is found
(`equation`, `align`, `eqnarray`, `gather`, `multline`, `flalign`, `alignat`, `displaymath`, each
with or without `*`, `\\[ … \\]`, `$$ … $$`) while inline math is stepped over; every display is
cleaned into one-line formulas.

Multi-line displays are split at their top-level `\\\\` into one formula per line, and the
top-level alignment `&`s are dropped: the paper renders each formula inside `displaymath`,
where neither is allowed, and one line of an `align` is what a reader sees as one formula.
Displays made of a single `split`/`aligned`/`gathered` block are unwrapped the same way.
`\\label`, `\\tag`, `\\nonumber`, `\\notag` and `\\intertext` are removed.

A formula is skipped when it still uses a macro that takes arguments, or a command or
environment that is neither standard LaTeX/amsmath nor seen in the IM2LATEX-100K formulas
(`known_commands`): it relies on a definition we do not have.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from im2markup.data.corpus import macros as macro_tools
from im2markup.data.corpus.sources import SourceError, iter_documents
from im2markup.latex.known_commands import KNOWN_COMMANDS, KNOWN_ENVIRONMENTS

DISPLAY_ENVIRONMENTS = frozenset(
    ("equation", "align", "eqnarray", "gather", "multline", "flalign", "alignat", "displaymath")
)
_UNWRAPPED = ("split", "aligned", "gathered", "multlined")
_MAX_DISPLAY_CHARS = 20_000

_SKIPPED = re.compile(
    r"\\begin\s*\{(?P<verbatim>verbatim\*?|lstlisting|minted|comment|Verbatim)\}"
    r"|\\verb\*?(?P<delim>[^A-Za-z\s*])|\\iffalse(?![A-Za-z])|\\.|%",
    re.S,
)
_OPENER = re.compile(
    r"\\begin\s*\{(?P<env>[A-Za-z]+)(?P<star>\*?)\}|\\\[|\\\(|\$\$|\$|\\(?:[A-Za-z]+|.)", re.S
)
_TOKEN = re.compile(r"\\(?:[A-Za-z]+|.)|\$\$|\$|\n[ \t]*\n", re.S)
_REMOVED = re.compile(r"\\(?:label|tag\*?|intertext)\s*\{|\\(?:nonumber|notag)(?![A-Za-z])")
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.S)
_LINE_TOKEN = re.compile(
    r"\\\\\*?(?:\[[^\]]*\])?|\\begin\s*\{[^}]*\}|\\end\s*\{[^}]*\}|\\.|[{}&]|[^\\{}&]+",
    re.S,
)
_ENVIRONMENT = re.compile(r"\\(?:begin|end)\s*\{([^}]*)\}")


def strip_comments(text: str) -> str:
    """Drop comments, `verbatim`-like blocks, `\\verb` and `\\iffalse … \\fi` (not nested)."""
    pieces, position = [], 0
    for match in _SKIPPED.finditer(text):
        if match.start() < position:
            continue
        token = match.group(0)
        if match.group("verbatim"):
            closing = text.find(f"\\end{{{match.group('verbatim')}}}", match.end())
            end = len(text) if closing < 0 else closing + len(match.group("verbatim")) + 6
        elif match.group("delim"):
            closing = text.find(match.group("delim"), match.end())
            newline = text.find("\n", match.end())
            end = closing + 1 if closing >= 0 and (newline < 0 or closing < newline) else len(text)
        elif token.startswith("\\iffalse"):
            closing = re.compile(r"\\fi(?![A-Za-z])").search(text, match.end())
            end = len(text) if closing is None else closing.end()
        elif token == "%":
            newline = text.find("\n", match.end())
            end = len(text) if newline < 0 else newline
        else:
            continue
        pieces.append(text[position : match.start()])
        pieces.append(" ")
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _find(text: str, start: int, closer: str) -> tuple[int, int] | None:
    """Span of the token closing math opened before `start`; None if a paragraph comes first."""
    limit = start + _MAX_DISPLAY_CHARS
    for match in _TOKEN.finditer(text, start):
        if match.start() > limit:
            return None
        token = match.group(0)
        if token == closer:
            return match.span()
        if closer == "$" and token == "$$":
            return match.start(), match.start() + 1
        if token.startswith("\n"):
            return None
    return None


def find_displays(text: str) -> list[tuple[str, str]]:
    """(environment, body) of every display in a comment-free text, in order.

    `$$` and `\\[` displays are named `$$` and `\\[`; inline math is skipped over so that `$a$$b$`
    is not taken for a display.
    """
    found: list[tuple[str, str]] = []
    position = 0
    while (match := _OPENER.search(text, position)) is not None:
        token, position = match.group(0), match.end()
        env = match.group("env")
        if env is not None:
            if env not in DISPLAY_ENVIRONMENTS:
                continue
            name = env + match.group("star")
            closing = re.compile(r"\\end\s*\{" + re.escape(name) + r"\}").search(text, position)
            if closing is None or closing.start() - position > _MAX_DISPLAY_CHARS:
                continue
            body = text[position : closing.start()]
            if env == "alignat":
                body = re.sub(r"^\s*\{[^}]*\}", "", body)
            found.append((env, body))
            position = closing.end()
        elif token in ("\\[", "$$", "\\(", "$"):
            closer = {"\\[": "\\]", "$$": "$$", "\\(": "\\)", "$": "$"}[token]
            span = _find(text, position, closer)
            if span is None:
                continue
            if token in ("\\[", "$$"):
                found.append((token, text[position : span[0]]))
            position = span[1]
    return found


def remove_labels(formula: str) -> str:
    """Drop `\\label{…}`, `\\tag{…}`, `\\intertext{…}`, `\\nonumber` and `\\notag`."""
    pieces, position = [], 0
    for match in _REMOVED.finditer(formula):
        if match.start() < position:
            continue
        end = match.end()
        if match.group(0).endswith("{"):
            end = macro_tools.group_end(formula, match.end() - 1)
            end = len(formula) if end < 0 else end
        pieces.append(formula[position : match.start()])
        pieces.append(" ")
        position = end
    pieces.append(formula[position:])
    return "".join(pieces)


def split_top_level(body: str) -> list[str]:
    """Split at `\\\\` outside braces and environments (arrays keep theirs), dropping top-level `&`.

    Lines come back with their whitespace collapsed; blank lines are dropped.
    """
    lines, current = [], []
    depth = 0
    tokens = _LINE_TOKEN.finditer(body)
    for match in tokens:
        token = match.group(0)
        if token.startswith("\\begin"):
            depth += 1
        elif token.startswith("\\end"):
            depth -= 1
        elif token in ("{", "}"):
            depth += 1 if token == "{" else -1
        elif depth == 0 and token.startswith("\\\\"):
            lines.append("".join(current))
            current = []
            continue
        elif depth == 0 and token == "&":
            current.append(" ")
            continue
        current.append(token)
    lines.append("".join(current))
    return [" ".join(line.split()) for line in lines if line.strip()]


def _unwrap(body: str) -> str:
    stripped = body.strip()
    for env in _UNWRAPPED:
        match = re.fullmatch(
            r"\\begin\s*\{" + env + r"\}(?:\s*\[[a-z]\])?(.*)\\end\s*\{" + env + r"\}",
            stripped,
            re.S,
        )
        if match and "\\begin" not in match.group(1):
            return match.group(1)
    return body


def display_formulas(body: str) -> list[str]:
    """The one-line formulas a display body holds (see the module docstring)."""
    return split_top_level(_unwrap(remove_labels(body)))


def unknown_commands(formula: str, defined: Iterable[str] = ()) -> set[str]:
    """Commands and environments of `formula` that are neither known nor in `defined`."""
    allowed = KNOWN_COMMANDS.union(defined)
    unknown = {
        f"\\{name}" for name in _COMMAND.findall(formula) if name.isalpha() and name not in allowed
    }
    unknown.update(
        f"{{{env.strip()}}}"
        for env in _ENVIRONMENT.findall(formula)
        if env.strip() not in KNOWN_ENVIRONMENTS
    )
    return unknown


@dataclass
class MiningReport:
    """What a mining run kept and why it dropped the rest."""

    documents: int = 0
    displays: int = 0
    formulas: list[str] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set, repr=False)
    """Whitespace-free forms of the kept formulas."""

    def summary(self) -> str:
        rejected = ", ".join(f"{n} {why}" for why, n in sorted(self.rejected.items()))
        return (
            f"{self.documents} files, {self.displays} displays, {len(self.formulas)} formulas"
            f" kept; skipped: {rejected or 'none'}; {len(self.errors)} unreadable sources"
        )


def mine_documents(texts: Iterable[str], report: MiningReport | None = None) -> MiningReport:
    """Formulas of texts that form one document (a bundle's files share their macros).

    Duplicates (same formula up to whitespace) within the report are dropped.
    """
    report = report if report is not None else MiningReport()
    definitions = macro_tools.Macros()
    bodies = []
    for text in texts:
        report.documents += 1
        definitions, body = macro_tools.collect(strip_comments(text), definitions)
        bodies.append(body)
    for body in bodies:
        for _env, display in find_displays(macro_tools.expand(body, definitions)):
            report.displays += 1
            for formula in display_formulas(display):
                if definitions.with_arguments & set(_COMMAND.findall(formula)):
                    report.rejected["macro with arguments"] += 1
                elif unknown_commands(formula):
                    report.rejected["unknown command"] += 1
                elif (key := "".join(formula.split())) in report.seen:
                    report.rejected["duplicate"] += 1
                else:
                    report.seen.add(key)
                    report.formulas.append(formula)
    return report


def mine_sources(sources: Iterable[str | Path], output: str | Path) -> MiningReport:
    """Mine files, folders and bundles into `output`, one formula per line, without duplicates.

    Unreadable sources are listed in the report's `errors` and do not stop the run.
    """
    report = MiningReport()
    for document in iter_documents([Path(s) for s in sources]):
        if isinstance(document, SourceError):
            report.errors.append(str(document))
        else:
            mine_documents(document.texts, report)
    Path(output).write_text("".join(f + "\n" for f in report.formulas), encoding="utf-8")
    return report
