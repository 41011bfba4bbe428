"""New training formulas made from real ones, for when the real pool is too small.

Two edits of normalized token strings, both keeping the structure (and so the length and the
look) of real formulas:

* same-class substitution — a Greek letter becomes another Greek letter (lower case for lower
  case), likewise Latin letters, digits and relation symbols; replacements are drawn with the
  pool's own frequencies, so the token distribution stays that of the pool;
* sub-expression swap — the braced argument of a sub- or superscript is replaced by the braced
  script argument of another formula.

Letters that spell words or units (`\\mathrm { d i a g }`, `\\hspace { 1 0 p t }`, array column
specifications) are left alone. Outputs must normalize, differ from every pool formula, avoid
the test and held-out sets, and render.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from im2markup.data.corpus.cleaning import Exclusions, PoolEntry, SourceYield, admit
from im2markup.data.shards import formula_key

_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi"
    " pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega"
)
_GREEK_UPPER = "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega"
_RELATIONS = (
    "= < > \\leq \\geq \\le \\ge \\neq \\ne \\sim \\simeq \\approx \\equiv \\cong \\propto \\to"
    " \\rightarrow \\longrightarrow \\Rightarrow \\mapsto"
)
CLASSES: dict[str, frozenset[str]] = {
    "greek": frozenset("\\" + g for g in _GREEK.split()),
    "Greek": frozenset("\\" + g for g in _GREEK_UPPER.split()),
    "latin": frozenset("abcdefghijklmnopqrstuvwxyz"),
    "Latin": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "digit": frozenset("0123456789"),
    "relation": frozenset(_RELATIONS.split()),
}
_CLASS_OF = {token: name for name, members in CLASSES.items() for token in members}
_VERBATIM_COMMANDS = (
    "\\mathrm \\operatorname \\operatorname* \\text \\textrm \\textit \\textbf \\mbox \\hbox"
    " \\hspace \\vspace \\hskip \\kern \\mkern \\rule \\raisebox \\makebox \\begin{array}"
    " \\begin{tabular} \\multicolumn \\label \\tag"
)
_VERBATIM_ARGUMENT = frozenset(_VERBATIM_COMMANDS.split())


def group_spans(tokens: Sequence[str]) -> dict[int, int]:
    """Start → end index (inclusive) of every balanced `{ … }` group."""
    spans, stack = {}, []
    for i, token in enumerate(tokens):
        if token == "{":
            stack.append(i)
        elif token == "}" and stack:
            spans[stack.pop()] = i
    return spans


def _protected(tokens: Sequence[str], spans: dict[int, int]) -> np.ndarray:
    """Mask of tokens inside arguments that spell words, units or column specifications."""
    mask = np.zeros(len(tokens), dtype=bool)
    for i, token in enumerate(tokens[:-1]):
        if token in _VERBATIM_ARGUMENT and i + 1 in spans:
            mask[i + 1 : spans[i + 1] + 1] = True
    return mask


class Recombiner:
    """Draws new formulas from a pool of normalized formulas."""

    def __init__(self, formulas: Sequence[str], seed: int = 0, substitute: float = 0.3):
        self.formulas = list(formulas)
        self.rng = np.random.default_rng(seed)
        self.substitute = substitute
        counts = Counter(t for f in self.formulas for t in f.split() if t in _CLASS_OF)
        self.choices: dict[str, tuple[list[str], np.ndarray]] = {}
        for name in CLASSES:
            members = sorted(t for t in counts if _CLASS_OF[t] == name)
            if members:
                weights = np.array([counts[t] for t in members], dtype=np.float64)
                self.choices[name] = (members, weights / weights.sum())

    def substitute_symbols(self, tokens: list[str]) -> list[str]:
        protected = _protected(tokens, group_spans(tokens))
        out = list(tokens)
        for i, token in enumerate(tokens):
            name = _CLASS_OF.get(token)
            if name is None or protected[i] or self.rng.random() >= self.substitute:
                continue
            members, weights = self.choices[name]
            out[i] = members[int(self.rng.choice(len(members), p=weights))]
        return out

    def swap_script(self, tokens: list[str], donor: list[str]) -> list[str]:
        """Replace one script argument of `tokens` by one of `donor` (unchanged if none)."""
        mine = _script_groups(tokens)
        theirs = _script_groups(donor)
        if not mine or not theirs:
            return tokens
        start, end = mine[int(self.rng.integers(len(mine)))]
        d_start, d_end = theirs[int(self.rng.integers(len(theirs)))]
        return tokens[:start] + donor[d_start : d_end + 1] + tokens[end + 1 :]

    def draw(self) -> tuple[int, str]:
        """(index of the base formula, a new formula) — not yet normalized or checked."""
        base = int(self.rng.integers(len(self.formulas)))
        tokens = self.formulas[base].split()
        if self.rng.random() < 0.5:
            donor = self.formulas[int(self.rng.integers(len(self.formulas)))].split()
            tokens = self.swap_script(tokens, donor)
        return base, " ".join(self.substitute_symbols(tokens))


def _script_groups(tokens: Sequence[str]) -> list[tuple[int, int]]:
    spans = group_spans(tokens)
    return [
        (i + 1, spans[i + 1])
        for i, token in enumerate(tokens[:-1])
        if token in ("_", "^") and i + 1 in spans
    ]


def recombine_pool(
    pool: Sequence[PoolEntry],
    count: int,
    exclusions: Exclusions,
    render_errors: Callable[[Sequence[str]], list[str | None]] | None,
    *,
    seed: int = 0,
    max_rounds: int = 6,
) -> tuple[list[PoolEntry], SourceYield]:
    """Up to `count` new, checked formulas drawn from `pool` (source `recombined`)."""
    recombiner = Recombiner([e.formula for e in pool], seed=seed)
    seen = {formula_key(e.formula) for e in pool}
    made: list[PoolEntry] = []
    counts = SourceYield()
    for _ in range(max_rounds):
        wanted = count - len(made)
        if wanted <= 0 or not pool:
            break
        batch = []
        for _ in range(int(wanted * 1.2) + 10):
            base, formula = recombiner.draw()
            counts.raw += 1
            normalized = admit(formula, exclusions, seen, counts)
            if normalized is not None:
                batch.append(PoolEntry("recombined", normalized, f"recombined:{pool[base].ref}"))
        errors = render_errors([e.formula for e in batch]) if render_errors else [None] * len(batch)
        for entry, error in zip(batch, errors, strict=True):
            if error is not None:
                counts.removed["does not render"] += 1
            elif len(made) < count:
                counts.rendered += 1
                made.append(entry)
    return made, counts
