"""The training formula pool: every corpus cleaned, normalized, checked against the test set.

Raw formulas (the hep-th and extra arXiv corpora, Wikipedia, mined or `--extra` files) take the
path of mined ones (`mining.display_formulas`: labels removed, multi-line displays split) and
keep the paper's 40–1,024 character window; formulas using commands outside LaTeX/amsmath are
dropped before normalization. Everything is normalized, and a formula is removed when it equals
a test formula (whitespace-free normalized or space-stripped form) — or, more loosely, when it
differs from one only in braces and spacing commands, since our normalizer and the paper's may
disagree on such details and a test formula must never reach training. Held-out validation
formulas are removed the same way; duplicates across sources are dropped (the first source
wins), and what remains must render in the paper's template.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from im2markup.data.corpus.corpora import CORPORA, Corpus, im2latex_split, read_lines
from im2markup.data.corpus.mining import display_formulas, unknown_commands
from im2markup.data.render.spacing import strip_spacing
from im2markup.data.shards import formula_key
from im2markup.latex.normalizer import normalize

WINDOW = (40, 1024)
"""Characters of a raw formula the paper kept (inclusive)."""
_IGNORED = frozenset(
    [
        *("{", "}", "~", "\\ ", "\\,", "\\;", "\\:", "\\!", "\\quad", "\\qquad", "\\enspace"),
        *("\\limits", "\\nolimits", "\\displaystyle", "\\textstyle", "\\\\"),
    ]
)
_TRAILING = frozenset([".", ",", ";", "\\,", "\\;"])

Renderer = Callable[[Sequence[str]], list[str | None]]
"""Formulas → the reason each fails to render in the paper's template (None: rendered)."""


def nospace_form(normalized: str) -> str:
    """The space-stripped label of a normalized formula (what a `shared` render shows)."""
    return " ".join(strip_spacing(normalized).split())


def loose_key(normalized: str) -> str:
    """The formula without braces, spacing, `\\limits`, `\\left`/`\\right` and end punctuation.

    Formulas with equal keys look nearly alike; the key catches a test formula that our
    normalizer writes slightly differently from the paper's.
    """
    tokens = [_bare_delimiter(t) for t in normalized.split() if t not in _IGNORED]
    while tokens and tokens[-1] in _TRAILING:
        tokens.pop()
    return "".join(tokens)


def _bare_delimiter(token: str) -> str:
    """`\\left(` → `(`, `\\right\\}` → `\\}`; other tokens (`\\leftarrow`) unchanged."""
    for prefix in ("\\left", "\\right"):
        rest = token.removeprefix(prefix)
        if rest != token and rest and not rest[0].isalpha():
            return rest
    return token


class Exclusions:
    """Formulas that must not be trained on: the test set and the held-out validation set."""

    def __init__(self, groups: dict[str, Iterable[str]]):
        self.exact: dict[str, str] = {}
        self.loose: dict[str, str] = {}
        for name, formulas in groups.items():
            for formula in formulas:
                if formula.strip():
                    self.exact.setdefault(formula_key(formula), name)
                    self.loose.setdefault(loose_key(formula), name)

    def match(self, normalized: str) -> str | None:
        """`<group>` for an exact match, `<group>-near` for a loose one, else None."""
        for form in (normalized, nospace_form(normalized)):
            hit = self.exact.get(formula_key(form))
            if hit is not None:
                return hit
        hit = self.loose.get(loose_key(normalized))
        return None if hit is None else f"{hit}-near"


@dataclass
class SourceYield:
    """How many formulas of one source survive each stage."""

    raw: int = 0
    cleaned: int = 0
    normalized: int = 0
    unique: int = 0
    rendered: int = 0
    removed: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class PoolEntry:
    """One training formula: its normalized form and where it came from (`source:line`)."""

    source: str
    formula: str
    ref: str


def clean_raw(formula: str) -> tuple[list[str], str | None]:
    """The formulas a raw display holds, or the reason it is dropped."""
    kept, reason = [], None
    for line in display_formulas(formula):
        if not WINDOW[0] <= len(line) <= WINDOW[1]:
            reason = "outside 40-1024 characters"
        elif unknown_commands(line):
            reason = "unknown command"
        else:
            kept.append(line)
    return kept, (None if kept else reason or "empty")


@dataclass(frozen=True)
class FormulaList:
    """An in-memory source: (ref, formula) pairs, raw or already normalized."""

    name: str
    items: list[tuple[str, str]]
    normalized: bool


Source = Corpus | FormulaList


def admit(formula: str, exclusions: Exclusions, seen: set[str], counts: SourceYield) -> str | None:
    """The normalized formula if it parses, is not excluded and is not in `seen` (it is then
    added); None otherwise. `counts` records the outcome."""
    counts.cleaned += 1
    result = normalize(formula)
    if not result.ok:
        counts.removed["does not parse"] += 1
        return None
    counts.normalized += 1
    excluded = exclusions.match(result.text)
    key = formula_key(result.text)
    if excluded is not None:
        counts.removed[f"equals {excluded}"] += 1
        return None
    if key in seen:
        counts.removed["duplicate"] += 1
        return None
    seen.add(key)
    counts.unique += 1
    return result.text


def _items(source: Source, root: Path | None, limit: int | None) -> list[tuple[str, str]]:
    if isinstance(source, FormulaList):
        items = source.items
    else:
        items = [(f"{source.name}:{k}", f) for k, f in enumerate(source.formulas(root))]
    return items if limit is None else items[:limit]


def collect_pool(
    sources: Sequence[Source],
    exclusions: Exclusions,
    render: Renderer | None = None,
    *,
    root: Path | None = None,
    limit: int | None = None,
) -> tuple[list[PoolEntry], dict[str, SourceYield]]:
    """Clean, normalize, exclude, deduplicate and (with `render`) render-check every source.

    `limit` keeps the first formulas of each source (for quick builds). Returns the pool in
    source order and each source's yield.
    """
    yields: dict[str, SourceYield] = {}
    pending: list[PoolEntry] = []
    seen: set[str] = set()
    for source in sources:
        name = source.name
        counts = yields.setdefault(name, SourceYield())
        for ref, formula in _items(source, root, limit):
            counts.raw += 1
            if source.normalized:
                pieces, reason = [formula], None
            else:
                pieces, reason = clean_raw(formula)
            if reason is not None:
                counts.removed[reason] += 1
            for piece in pieces:
                normalized = admit(piece, exclusions, seen, counts)
                if normalized is not None:
                    pending.append(PoolEntry(name, normalized, ref))
    if render is None:
        for entry in pending:
            yields[entry.source].rendered += 1
        return pending, yields
    errors = render([entry.formula for entry in pending])
    pool = []
    for entry, error in zip(pending, errors, strict=True):
        if error is None:
            yields[entry.source].rendered += 1
            pool.append(entry)
        else:
            yields[entry.source].removed["does not render"] += 1
    return pool, yields


def default_sources(
    root: Path | None,
    heldout_val: set[int],
    extra: Sequence[Path] = (),
    corpora: Collection[str] | None = None,
) -> list[Source]:
    """The validation formulas not held out, the shared corpora (those named in `corpora`, else
    all), then `extra` raw formula files."""
    known = [corpus.name for corpus in CORPORA]
    unknown = sorted(set(corpora or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown corpora {', '.join(unknown)}; known: {', '.join(known)}")
    val = im2latex_split("val", root)
    kept = [(f"val:{k}", f) for k, f in enumerate(val.norm) if k not in heldout_val and f.strip()]
    sources: list[Source] = [FormulaList("im2latex-val", kept, normalized=True)]
    sources.extend(c for c in CORPORA if corpora is None or c.name in corpora)
    for path in extra:
        lines = read_lines(path)
        items = [(f"{path.name}:{k}", f) for k, f in enumerate(lines) if f.strip()]
        sources.append(FormulaList(f"extra:{path.name}", items, normalized=False))
    return sources


def exclusions_for(root: Path | None, heldout_val: set[int]) -> Exclusions:
    """The test formulas (both forms) and the held-out validation formulas (both forms)."""
    test = im2latex_split("test", root)
    val = im2latex_split("val", root)
    held = sorted(heldout_val)
    return Exclusions(
        {
            "test": [*test.norm, *test.nospace],
            "heldout-val": [val.norm[k] for k in held] + [val.nospace[k] for k in held],
        }
    )


def yields_table(yields: dict[str, SourceYield]) -> list[dict[str, object]]:
    """One JSON-ready row per source."""
    rows = []
    for name, counts in yields.items():
        row: dict[str, object] = {"source": name, **asdict(counts)}
        row["removed"] = dict(sorted(counts.removed.items()))
        rows.append(row)
    return rows
