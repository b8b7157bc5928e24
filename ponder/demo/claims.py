"""A demo claim: a measured value, its threshold and the verdict, in the one shape every axis's
summary.json uses (`{"value", "threshold", "holds"}`).

Values are rates, and differences of rates, over a finite held-out evaluation, computed in
floating point: 0.73 - 0.70 is 0.030000000000000027, so a level that lost exactly 3 points
would "lose more than 0.03" while one that went from 0.94 to 0.91 would not. Verdicts
therefore allow `TOL`, far below one sample of any evaluation. A value that is missing or
NaN never holds.
"""

from __future__ import annotations

import math

TOL = 1e-9


def at_least(value: float | None, threshold: float) -> dict:
    """The claim `value >= threshold`."""
    return _claim(value, threshold, value is not None and value >= threshold - TOL)


def at_most(value: float | None, threshold: float) -> dict:
    """The claim `value <= threshold`."""
    return _claim(value, threshold, value is not None and value <= threshold + TOL)


def _claim(value, threshold, holds: bool) -> dict:
    ok = holds and not (isinstance(value, float) and math.isnan(value))
    return {"value": value, "threshold": threshold, "holds": bool(ok)}
