"""Which of an image's candidate scales to read: the one whose greedy reading is surest.

Each image is read greedily at every candidate scale (and stroke weight, `inputs.ModelInputs`)
and the reading with the highest log-probability picks the scale the final decoding uses; on
a tie the earlier candidate wins. The candidates are read in rounds, the scales nearest the
estimate first (it is most often right). After a round every image has a floor, the score of
its best reading so far, and a later reading that falls below it is abandoned at that step:
log-probabilities only ever add up to less, so it could not have won. The choice is the same
as reading every candidate to the end; what is saved is mostly the long, hopeless readings of
a badly scaled formula (`benchmarks/README.md`, "Tail latency").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from im2markup.model.base import Hypothesis
from im2markup.serving.inputs import ModelInputs

Key = tuple[int, int]
"""(image index, candidate index)."""

Decode = Callable[[list[tuple[Key, np.ndarray]], Sequence[float] | None], dict[Key, Hypothesis]]
"""Greedy readings of `(key, pixels)` items, each abandoned below its floor (if floors)."""

Choice = tuple[np.ndarray, Hypothesis | None]
"""The chosen model input and its greedy reading (None: one candidate, nothing decoded)."""


def choose_scales(ready: dict[int, ModelInputs], decode: Decode) -> dict[int, Choice]:
    """Per image, the candidate whose greedy reading scores highest, with that reading."""
    chosen: dict[int, Choice] = {i: (inputs.candidates[0], None) for i, inputs in ready.items()}
    several = {i: inputs for i, inputs in ready.items() if len(inputs.candidates) > 1}
    best: dict[int, tuple[float, int, Hypothesis]] = {}
    for rank in sorted({r for inputs in several.values() for r in inputs.ranks}):
        items = [
            ((i, j), pixels)
            for i, inputs in several.items()
            for j, pixels in enumerate(inputs.candidates)
            if inputs.ranks[j] == rank
        ]
        floors = [best[i][0] if i in best else float("-inf") for (i, _), _ in items]
        for (i, j), hyp in decode(items, floors if best else None).items():
            if i not in best or (hyp.score, -j) > (best[i][0], -best[i][1]):
                best[i] = (hyp.score, j, hyp)
    for i, (_, j, hyp) in best.items():
        chosen[i] = (ready[i].candidates[j], hyp)
    return chosen
