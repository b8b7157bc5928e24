"""Exact fast path for math answers: decide plain numeric forms without a symbolic parse.

    from ponder.verify.fast import decide
    decide("0.75", "\\\\frac{3}{4}")     # True
    decide("\\\\{2, 1\\\\}", "\\\\{1,2\\\\}")  # True
    decide("x = 7", "8")               # False
    decide("\\\\sqrt{8}", "2\\\\sqrt{2}")   # None: not a form this module reads; math-verify decides

`decide(answer, gold)` reads each string as one of a few forms and compares them exactly with
`fractions.Fraction`; it returns True/False only where math-verify (as called by
`ponder.verify.equiv`) gives the same verdict, and None everywhere else. The forms:

| form | written as | compared |
|---|---|---|
| number | `-12`, `+5`, `007`, `1,000` / `1{,}000`, `2.50`, `.5`, `3/4`, `-\\frac{3}{4}`, `\\dfrac{-3}{4}`, `\\frac34` | exactly (see decimals below) |
| assignment | `x = 7` (one lowercase letter other than e and i, a number on the right) | against a number: its value; against another assignment: letter and value |
| set | `\\{1, -2, 3/4\\}` (integers and fractions, no decimals) | as sets of values (order and repeats ignored) |
| interval | `(1, 2]`, `[-3/2, 5)`, `(-\\infty, 3]` (left end below right end; infinite ends open) | brackets and ends |

Where it departs from a plain exact comparison, to match math-verify:
- A decimal is a float to math-verify, compared after rounding to 6 places, so `0.1234567`
  equals `0.1234568` there while `3.0000001` does not equal `3`. The fast path therefore
  decides a pair involving a decimal only when the values are exactly equal (True) or clearly
  apart (False: relative gap above 1e-5, far beyond the rounding); anything in between is None.
  Decimals longer than 15 significant digits (past a float's precision) are not read at all.
- Anything math-verify reads in a way that is not the plain reading is left to it (None):
  percentages (`50\\%` equals both `50` and `0.5` there), comma lists without braces (`1,2`
  is a set there, `1,000` a number), `5.` (unparsed), zero denominators, `e` and `i` as
  variables, closed brackets at infinity, empty and reversed intervals, mixed forms (a set
  against a number, an interval against a set), and any digit-comma-three-digits inside a set
  or interval (`\\{1,234\\}`: two elements or one thousand-separated number?).
Whitespace is allowed at the ends and around the separators (`=`, `,`, braces), never inside a
number. tests/test_verify_fast.py checks every decided verdict against math-verify, on a fixed
table and on random forms (hypothesis).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

MAX_DECIMAL_DIGITS = 15  # a float's precision: longer decimals are left to math-verify
MAX_DIGITS = 40  # integers/fractions: exact at any length, but keep the fast path cheap
REL_APART = Fraction(1, 10**5)  # decimals further apart than this (relative) differ after any 6-place rounding


@dataclass(frozen=True)
class Num:
    value: Fraction
    decimal: bool  # written with a decimal point: a float to math-verify


@dataclass(frozen=True)
class Assign:
    var: str
    num: Num


@dataclass(frozen=True)
class FiniteSet:
    values: frozenset  # of Fraction


@dataclass(frozen=True)
class Interval:
    left_closed: bool
    lo: Fraction | None  # None = -infinity
    hi: Fraction | None  # None = +infinity
    right_closed: bool


_INT = r"\d+|\d{1,3}(?:(?:,|\{,\})\d{3})+"
_DECIMAL = re.compile(rf"([+-]?)({_INT}|)\.(\d+)", re.ASCII)
_INTEGER = re.compile(rf"([+-]?)({_INT})", re.ASCII)
_SLASH = re.compile(r"([+-]?)(\d+)/(\d+)", re.ASCII)
_FRAC = re.compile(r"([+-]?)\\[dt]?frac\s*\{\s*([+-]?\d+)\s*\}\s*\{\s*([+-]?\d+)\s*\}", re.ASCII)
_FRAC_DIGITS = re.compile(r"([+-]?)\\[dt]?frac(\d)(\d)", re.ASCII)  # \frac34; \frac345 is not this
_ASSIGN = re.compile(r"([a-df-hj-z])\s*=\s*(.+)", re.S | re.ASCII)
_SET = re.compile(r"\\\{(.*)\\\}", re.S | re.ASCII)
_INTERVAL = re.compile(r"([(\[])(.*),(.*)([)\]])", re.S | re.ASCII)
_INF = re.compile(r"([+-]?)\\infty", re.ASCII)
_THOUSANDS_LOOKALIKE = re.compile(r"\d\s*,\s*\d{3}(?!\d)", re.ASCII)
_SPACE = " \t\n\r\f\v"  # ASCII only: what other spaces mean to math-verify is not checked


def _sign(s: str) -> int:
    return -1 if s == "-" else 1


def _digits_ok(*parts: str, limit: int = MAX_DIGITS) -> bool:
    return sum(len(p) for p in parts) <= limit


def _int(text: str) -> int:
    return int(text.replace("{,}", "").replace(",", ""))


def read_number(s: str, exact_only: bool = False) -> Num | None:
    """A plain number (see the module table), or None."""
    s = s.strip(_SPACE)
    if m := _INTEGER.fullmatch(s):
        if m[2].startswith("0") and ("," in m[2]):  # 01,000: not a number to math-verify
            return None
        return Num(Fraction(_sign(m[1]) * _int(m[2])), False) if _digits_ok(m[2]) else None
    if m := _DECIMAL.fullmatch(s):
        if exact_only or (m[2].startswith("0") and "," in m[2]):
            return None
        whole, frac = m[2].replace("{,}", "").replace(",", ""), m[3]
        if not _digits_ok(whole.lstrip("0"), frac, limit=MAX_DECIMAL_DIGITS):
            return None
        return Num(_sign(m[1]) * Fraction(int(whole or "0") * 10 ** len(frac) + int(frac), 10 ** len(frac)), True)
    for pattern in (_SLASH, _FRAC, _FRAC_DIGITS):
        if m := pattern.fullmatch(s):
            num, den = int(m[2]), int(m[3])
            if den == 0 or not _digits_ok(m[2], m[3]):
                return None
            return Num(_sign(m[1]) * Fraction(num, den), False)
    return None


def _read_end(s: str, low: bool) -> Fraction | None | bool:
    """An interval end: a value, None for the infinity on that side, False if unreadable."""
    if m := _INF.fullmatch(s.strip(_SPACE)):
        return None if (m[1] == "-") == low else False
    n = read_number(s, exact_only=True)
    return False if n is None else n.value


def read(s: str) -> Num | Assign | FiniteSet | Interval | None:
    """The form `s` is written in (module table), or None if it is none of them."""
    s = s.strip(_SPACE)
    if len(s) > 400:
        return None
    if (n := read_number(s)) is not None:
        return n
    if m := _ASSIGN.fullmatch(s):
        n = None if "," in m[2] else read_number(m[2])  # x=1,000 is not x=1000 to math-verify
        return None if n is None else Assign(m[1], n)
    if _THOUSANDS_LOOKALIKE.search(s) or "{,}" in s:
        return None
    if m := _SET.fullmatch(s):
        values = [read_number(e, exact_only=True) for e in m[1].split(",")]
        if any(v is None for v in values):
            return None
        return FiniteSet(frozenset(v.value for v in values))
    if m := _INTERVAL.fullmatch(s):
        lo, hi = _read_end(m[2], low=True), _read_end(m[3], low=False)
        if lo is False or hi is False:
            return None
        if lo is not None and hi is not None and lo >= hi:
            return None  # empty or reversed: math-verify reads it as a tuple
        left_closed, right_closed = m[1] == "[", m[4] == "]"
        if (lo is None and left_closed) or (hi is None and right_closed):
            return None
        return Interval(left_closed, lo, hi, right_closed)
    return None


# -- verdicts: one pure function per (answer form, gold form); pairs not in the table are None ----
def _numbers(a: Num, g: Num) -> bool | None:
    if a.value == g.value:
        return True
    if not (a.decimal or g.decimal):
        return False  # two exact rationals: math-verify compares them exactly
    scale = max(1, abs(a.value), abs(g.value))
    return False if abs(a.value - g.value) > REL_APART * scale else None


def _assignments(a: Assign, g: Assign) -> bool | None:
    if a.var != g.var:
        return False
    return _numbers(a.num, g.num)


RULES: dict[tuple[type, type], Callable[..., bool | None]] = {
    (Num, Num): _numbers,
    (Assign, Num): lambda a, g: _numbers(a.num, g),  # math-verify compares the right-hand side
    (Num, Assign): lambda a, g: _numbers(a, g.num),
    (Assign, Assign): _assignments,
    (FiniteSet, FiniteSet): lambda a, g: a.values == g.values,
    (Interval, Interval): lambda a, g: a == g,
}


def decide(answer: str, gold: str) -> bool | None:
    """math-verify's verdict on (answer, gold) where it can be had exactly and cheaply, else None."""
    a = read(answer)
    if a is None:
        return None
    g = read(gold)
    if g is None:
        return None
    rule = RULES.get((type(a), type(g)))
    return None if rule is None else rule(a, g)
