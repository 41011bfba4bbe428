"""Reading a predictions file and lining its entries up with the items of a split.

Two formats are accepted: one prediction per line (line k is item k), or the JSON lines written
by `im2markup predict --json` (`{"image", "latex", "tokens", ...}`), matched to items by image
name, file stem or integer stem. An entry that cannot be read or matched is reported and its item
counts as missing, i.e. as an empty prediction: a bad entry can only lower a score.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from im2markup.latex.normalizer import normalize
from im2markup.latex.tokenizer import tokenize


@dataclass
class LoadedPredictions:
    """Token lists aligned with the split (`None` = missing) and the problems met on the way."""

    tokens: list[list[str] | None]
    problems: list[str] = field(default_factory=list)

    @property
    def n_missing(self) -> int:
        return sum(t is None for t in self.tokens)


def load_predictions(
    path: Path, names: Sequence[str], *, normalize_all: bool = False
) -> LoadedPredictions:
    """Read `path` and return one token list per item of `names` (the split's image names).

    Plain lines are split on whitespace (the normalized token form the models write). JSON
    entries use their `tokens` field, else their `latex` normalized (`latex_tokens`).
    `normalize_all` normalizes every line or `latex` field instead, for LaTeX written by other
    systems (pix2tex, texify, ...), which is not in the normalized token form.
    """
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if _looks_like_json_lines(lines):
        return _from_json_lines(lines, names, normalize_all)
    if len(lines) > len(names):
        raise ValueError(
            f"{path}: {len(lines)} prediction lines for {len(names)} items; "
            "line k must be the prediction for item k"
        )
    split = latex_tokens if normalize_all else str.split
    loaded = LoadedPredictions([split(line) for line in lines])
    loaded.tokens += [None] * (len(names) - len(lines))
    if len(lines) < len(names):
        loaded.problems.append(
            f"{path}: only {len(lines)} lines for {len(names)} items; "
            f"the last {len(names) - len(lines)} count as missing"
        )
    return loaded


def _looks_like_json_lines(lines: Sequence[str]) -> bool:
    first = next((line for line in lines if line.strip()), "")
    try:
        entry = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(entry, dict) and ("tokens" in entry or "latex" in entry)


def latex_tokens(latex: str) -> list[str]:
    """LaTeX from another system in the gold's normalized form, so that tokens compare fairly;
    LaTeX the normalizer cannot parse keeps its minimal tokens."""
    normalized = normalize(latex)
    if normalized.ok:
        return normalized.tokens
    return [] if normalized.error == "empty formula" else tokenize(latex)


def _from_json_lines(
    lines: Sequence[str], names: Sequence[str], normalize_all: bool
) -> LoadedPredictions:
    index = _name_index(names)
    loaded = LoadedPredictions([None] * len(names))
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not a JSON object")
            item = _item_of(entry, index, number - 1, len(names))
            tokens = _tokens_of(entry, normalize_all)
        except (ValueError, TypeError) as error:
            loaded.problems.append(f"line {number}: {error}")
            continue
        if loaded.tokens[item] is not None:
            loaded.problems.append(f"line {number}: second prediction for item {item}, ignored")
            continue
        loaded.tokens[item] = tokens
    return loaded


def _name_index(names: Sequence[str]) -> dict[str, int]:
    """Every way an entry may name item k: its name, the name's stem, and `k` itself."""
    index: dict[str, int] = {}
    for k, name in enumerate(names):
        index.setdefault(name, k)
        index.setdefault(PurePath(name).stem, k)
    for k in range(len(names)):
        index.setdefault(str(k), k)
    return index


def _item_of(entry: dict, index: dict[str, int], line_index: int, n_items: int) -> int:
    image = entry.get("image")
    if image is None:
        if line_index >= n_items:
            raise ValueError("no 'image' field and no item at this line")
        return line_index
    name = PurePath(str(image)).name
    for key in (name, PurePath(name).stem):
        if key in index:
            return index[key]
    raise ValueError(f"image {str(image)!r} is not an item of the split")


def _tokens_of(entry: dict, normalize_all: bool) -> list[str]:
    if entry.get("error"):
        raise ValueError(f"prediction failed: {entry['error']}")
    latex = entry.get("latex")
    if normalize_all and isinstance(latex, str):
        return latex_tokens(latex)
    tokens = entry.get("tokens")
    if isinstance(tokens, list) and all(isinstance(t, str) for t in tokens):
        return list(tokens)
    if isinstance(tokens, str):
        return tokens.split()
    if not isinstance(latex, str):
        raise ValueError("neither a 'tokens' list nor a 'latex' string")
    return latex_tokens(latex)
