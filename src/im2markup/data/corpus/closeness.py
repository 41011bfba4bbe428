"""How close a formula collection is to the test distribution (measured on validation formulas).

Two views: formula length in tokens (histogram, mean, median) and which tokens occur (unigram
distributions compared with the Jensen–Shannon divergence, in bits, 0 = identical, 1 = disjoint,
and with the Kullback–Leibler divergence of the reference from the collection, add-one smoothed
so that tokens the collection never shows are penalized instead of infinite).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

LENGTH_EDGES = (0, 10, 20, 30, 40, 50, 60, 80, 100, 125, 150, 200, 10**9)
"""Token-length bins: [0, 10), [10, 20), …, [200, ∞)."""


def token_counts(formulas: Iterable[str]) -> Counter[str]:
    return Counter(t for f in formulas for t in f.split())


def _aligned(p: Counter[str], q: Counter[str], smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    vocab = sorted(set(p) | set(q))
    a = np.array([p[t] for t in vocab], dtype=np.float64) + smoothing
    b = np.array([q[t] for t in vocab], dtype=np.float64) + smoothing
    return a / a.sum(), b / b.sum()


def js_divergence(p: Counter[str], q: Counter[str]) -> float:
    """Jensen–Shannon divergence of two count tables, in bits (0–1)."""
    a, b = _aligned(p, q, 0.0)
    mean = (a + b) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(a > 0, a * np.log2(a / mean), 0.0).sum()
        right = np.where(b > 0, b * np.log2(b / mean), 0.0).sum()
    return float((left + right) / 2)


def kl_divergence(reference: Counter[str], model: Counter[str], smoothing: float = 1.0) -> float:
    """KL(reference ‖ model) in bits, both add-`smoothing` over the union of their tokens."""
    a, b = _aligned(reference, model, smoothing)
    return float((a * np.log2(a / b)).sum())


def length_histogram(formulas: Sequence[str]) -> list[float]:
    """Fraction of formulas in each `LENGTH_EDGES` bin."""
    lengths = [len(f.split()) for f in formulas]
    counts, _ = np.histogram(lengths, bins=LENGTH_EDGES)
    return [round(float(c) / max(1, len(lengths)), 4) for c in counts]


def closeness(groups: dict[str, Sequence[str]], reference: Sequence[str]) -> dict[str, dict]:
    """Per group (and for all groups together): size, lengths and divergences from `reference`."""
    ref_tokens = token_counts(reference)
    ref_hist = length_histogram(reference)
    everything = [f for formulas in groups.values() for f in formulas]
    rows = {}
    for name, formulas in {**groups, "all": everything, "reference": list(reference)}.items():
        lengths = [len(f.split()) for f in formulas] or [0]
        hist = length_histogram(formulas)
        rows[name] = {
            "formulas": len(formulas),
            "mean_tokens": round(float(np.mean(lengths)), 1),
            "median_tokens": float(np.median(lengths)),
            "length_js": round(js_divergence(_bins(hist), _bins(ref_hist)), 4),
            "token_js": round(js_divergence(token_counts(formulas), ref_tokens), 4),
            "token_kl": round(kl_divergence(ref_tokens, token_counts(formulas)), 4),
            "length_histogram": hist,
        }
    return rows


def _bins(histogram: list[float]) -> Counter[str]:
    return Counter({str(k): v for k, v in enumerate(histogram)})


def format_table(rows: dict[str, dict]) -> str:
    """A plain-text table of `closeness` rows."""
    header = f"{'source':<24}{'formulas':>9}{'mean':>7}{'median':>7}{'len JS':>8}{'tok JS':>8}"
    lines = [header + f"{'tok KL':>8}"]
    for name, row in rows.items():
        lines.append(
            f"{name:<24}{row['formulas']:>9}{row['mean_tokens']:>7}{row['median_tokens']:>7}"
            f"{row['length_js']:>8}{row['token_js']:>8}{row['token_kl']:>8}"
        )
    return "\n".join(lines)


def dataset_closeness(directory: Path, root: Path | None = None) -> dict[str, dict]:
    """`closeness` of a built dataset's pool (`pool.tsv`) to its held-out validation formulas."""
    from im2markup.data.corpus.corpora import im2latex_split
    from im2markup.data.corpus.manifest import read_val_indices

    groups: dict[str, list[str]] = {}
    for line in (directory / "pool.tsv").read_text(encoding="utf-8").splitlines():
        source, _ref, formula = line.split("\t", 2)
        groups.setdefault(source, []).append(formula)
    held = read_val_indices(directory)
    val = im2latex_split("val", root)
    return closeness(groups, [val.norm[k] for k in held])
