"""Stopping work that has run out of time: a deadline on `time.monotonic()`'s clock.

A server that answers "took too long" must also stop the work, or every timed-out request
keeps a worker busy to the end. Searches check the deadline before every step, and the
serving path between the steps of reading an image, so no step runs much past it.
"""

from __future__ import annotations

import time


class DeadlineExceeded(TimeoutError):
    """The work went on past its deadline and was abandoned."""


def check_deadline(deadline: float | None) -> None:
    """Raise `DeadlineExceeded` once `time.monotonic()` has passed `deadline` (None: never)."""
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded("the deadline passed before the work was done")


def deadline_after(seconds: float | None) -> float | None:
    """The deadline `seconds` from now (None: none)."""
    return None if seconds is None else time.monotonic() + seconds
