"""Small numeric helpers shared by metrics, reports and the trainer (one definition each)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def mean(xs: Iterable[float]) -> float:
    """The arithmetic mean; NaN for no values (an empty level has no accuracy, not accuracy 0).

    Callers that want a number to display or log write `mean(xs) if xs else 0.0` themselves, so
    the choice is visible where it is made.
    """
    xs = list(xs)
    return math.fsum(xs) / len(xs) if xs else float("nan")


def number(value: Any) -> float | None:
    """A metric value as a float: bools as 1/0; anything not a finite number is None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


# -- special functions (no scipy in the base install) ------------------------------------------
def lbeta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (Lentz's method)."""
    tiny, eps = 1e-300, 3e-14
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """P(p <= x) for p ~ Beta(a, b) (the regularized incomplete beta I_x(a, b))."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - lbeta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


# -- Student's t: intervals over seeds ---------------------------------------------------------
def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * beta_cdf(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t (bisection on t_cdf; 1e-12 absolute), p in (0, 1)."""
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    while hi - lo > 1e-12 * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return 0.5 * (lo + hi)


def interval(xs: list[float], level: float = 0.95) -> dict:
    """{mean, n, sd, half_width, lo, hi, ci95}: the t-interval over `xs` (ci95 = [lo, hi]); all but
    mean and n are None below two values, and mean too for none."""
    n = len(xs)
    out: dict[str, Any] = {"mean": mean(xs) if n else None, "n": n, "sd": None, "half_width": None,
                           "lo": None, "hi": None, "ci95": None}
    if n >= 2:
        m = out["mean"]
        sd = math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (n - 1))
        hw = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
        out.update(sd=sd, half_width=hw, lo=m - hw, hi=m + hw, ci95=[m - hw, m + hw])
    return out
