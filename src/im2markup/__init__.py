"""im2markup: read an image of a mathematical formula and write the LaTeX that renders it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from im2markup.serving.predictor import Predictor


def load_model(path: str | None = None, device: str = "cpu", **kwargs: Any) -> Predictor:
    """Load a trained model (the bundled one by default; `handwritten=True` for the bundled
    handwriting model) ready to predict.

    Imported lazily so that `import im2markup` stays cheap for the LaTeX tools.
    """
    from im2markup.serving.predictor import load_model as _load

    return _load(path, device=device, **kwargs)


__all__ = ["__version__", "load_model"]
