"""Small numeric helpers shared by metrics, reports and the trainer (one definition each)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def mean(xs: Iterable[float]) -> float:
    """The arithmetic mean; NaN for no values (an empty level has no accuracy, not accuracy 0).

    Callers that want a number to display or log write `mean(xs) if xs else 0.0` themselves, so
    the choice is visible where it is made.
    """
    xs = list(xs)
    return math.fsum(xs) / len(xs) if xs else float("nan")
