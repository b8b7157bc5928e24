"""The exact fast path (ponder.verify.fast) never disagrees with math-verify, and the per-batch memo.

The reference is `math_equal(..., shortcuts=False)`: math-verify alone, as ponder called it
before the fast path existed. Every verdict the fast path gives is checked against it, on a
fixed table, on bench/verify.py's pairs and on random numeric forms (hypothesis)."""

from __future__ import annotations

import importlib.util
import os
from fractions import Fraction
from pathlib import Path

import pytest

from ponder.verify import equiv
from ponder.verify.equiv import math_equal, math_score
from ponder.verify.fast import decide

try:
    from hypothesis import HealthCheck, assume, example, given, settings
    from hypothesis import strategies as st
except ImportError:  # the dev extra installs it
    st = None



def reference(answer: str, gold: str) -> bool:
    return math_equal(answer, gold, shortcuts=False)


@pytest.mark.parametrize(
    "answer, gold, fast",
    [
        ("5", "5.0", True),
        ("05", "5", True),  # leading zeros
        ("+5", "5", True),
        ("-0", "0", True),
        (".5", "0.5", True),
        ("1,000", "1000", True),  # thousands separators
        ("1{,}000", "1000.0", True),
        ("-1,000", "-1000", True),
        ("0.5", "\\frac{1}{2}", True),
        ("2.675", "107/40", True),
        ("2/4", "\\dfrac{1}{2}", True),
        ("-\\frac{1}{2}", "\\frac{1}{-2}", True),
        ("\\frac12", "0.5", True),
        ("0.3333", "\\frac{1}{3}", False),  # a rounded decimal is not the fraction
        ("12345678901234567891", "12345678901234567892", False),  # integers are exact at any size
        ("-5", "5", False),
        ("x = 7", "7", True),
        ("7", "x=7", True),
        ("x=7", "y=7", False),
        ("x=3", "x=3.0", True),
        ("\\{2, 1\\}", "\\{1,2\\}", True),
        ("\\{1,2\\}", "\\{1,2,2\\}", True),  # a set: repeats do not count
        ("\\{1,3\\}", "\\{1,2\\}", False),
        ("\\{2,\\frac{1}{2}\\}", "\\{1/2,2\\}", True),
        ("(0, 1]", "(0,1]", True),
        ("[0,1)", "(0,1]", False),
        ("(3,\\infty)", "(3,+\\infty)", True),
        ("(-\\infty,3]", "(-\\infty, 4]", False),
        # left to math-verify (None): math-verify reads these in ways a plain reading would not
        ("0.333333", "1/3", None),  # equal after math-verify's 6-place rounding
        ("0.1234567", "0.1234568", None),
        ("3.0000001", "3", None),  # within rounding distance, yet unequal to math-verify
        ("50\\%", "50", None),  # equal there, and so is 50\% vs 0.5
        ("1,2", "2,1", None),  # a set there
        ("1,00", "100", None),
        ("01,000", "1000", None),
        ("x=1,000", "1000", None),
        ("5.", "5", None),
        ("\\frac123", "1/23", None),  # \frac123 is 1/23 there
        ("\\{1\\}", "1", None),  # a set against a number
        ("(1,2)", "\\{1,2\\}", None),  # an open interval against a pair
        ("\\{1,234\\}", "\\{1, 234\\}", None),  # thousands separator or two elements?
        ("[2,1]", "[3,1]", None),  # reversed: a tuple there
        ("[-\\infty,3]", "(-\\infty,3]", None),
        ("e=7", "7", None),  # e is Euler's number
        ("1/0", "1/0", True),  # identical strings: math_equal's own shortcut, not the fast path's
        ("\\sqrt{8}", "2\\sqrt{2}", None),
    ],
)
def test_fast_path_table(answer, gold, fast):
    if "".join(answer.split()) != "".join(gold.split()):
        assert decide(answer, gold) is fast
    if fast is not None:
        assert reference(answer, gold) is fast  # the table itself is math-verify's verdict
        assert math_equal(answer, gold) is fast


def _bench():
    path = Path(__file__).resolve().parents[1] / "bench" / "verify.py"
    spec = importlib.util.spec_from_file_location("bench_verify", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_pairs_identical_verdicts_and_mostly_fast():
    """bench/verify.py's pairs: the same verdicts with and without the shortcuts, and the fast
    path decides most of them (the benchmark's 4x floor rests on it)."""
    from ponder.format import extract_answer

    pairs = _bench().make_pairs(400, seed=12345)
    equiv.new_batch()
    assert [math_score(c, g) for g, c in pairs] == [math_score(c, g, shortcuts=False) for g, c in pairs]
    decided = sum(decide(extract_answer(c, math=True), g) is not None for g, c in pairs)
    assert decided >= 0.5 * len(pairs)


def test_memo_parses_each_gold_once_per_batch(monkeypatch):
    calls = []
    real = equiv._parse
    monkeypatch.setattr(equiv, "_parse", lambda text, main: calls.append(text) or real(text, main))
    equiv.new_batch()
    gold = "2\\sqrt{2}"  # not a fast-path form: math-verify decides
    answers = ["\\sqrt{8}", "\\sqrt{8}", "\\sqrt{2}*2", "3", "\\sqrt{8}"]
    assert [math_equal(a, gold) for a in answers] == [True, True, True, False, True]
    assert calls.count(gold) == 1  # gold parsed once for its five samples
    assert calls.count("\\sqrt{8}") == 1  # the repeated answer's verdict computed once
    equiv.new_batch()
    assert math_equal("\\sqrt{8}", gold)
    assert calls.count(gold) == 2  # a new batch parses again


def test_reference_skips_fast_path_and_memo(monkeypatch):
    monkeypatch.setattr(equiv, "decide", lambda a, g: pytest.fail("the reference must not use the fast path"))
    equiv.new_batch()
    assert math_score("<answer>0.5</answer>", "1/2", shortcuts=False) == 1.0
    assert equiv._verdicts == {} and equiv._gold_parses == {}


# -- random numeric forms --------------------------------------------------------------------------
def _spaces(draw) -> str:
    return draw(st.sampled_from(["", "", " ", "  ", "\t", " \n"]))


def _int_forms(n: int) -> list[str]:
    forms = [str(n), f"{n}.0", f"{n}.00", f"+{n}" if n >= 0 else str(n), f"0{n}" if n >= 0 else f"-0{-n}"]
    if abs(n) >= 1000:
        forms += [f"{n:,}", f"{n:,}".replace(",", "{,}"), f"{n:,}.5"]
    forms += [f"{2 * n}/2", f"\\frac{{{3 * n}}}{{3}}"]
    return forms


def _fraction_forms(f: Fraction) -> list[str]:
    p, q = f.numerator, f.denominator
    sign, ap = ("-" if p < 0 else ""), abs(p)
    forms = [f"{p}/{q}", f"{sign}\\frac{{{ap}}}{{{q}}}", f"\\frac{{{p}}}{{{q}}}", f"\\dfrac{{{p}}}{{{q}}}",
             f"\\tfrac{{{ap}}}{{{q}}}", f"\\frac{{{ap}}}{{-{q}}}" if p < 0 else f"\\frac{{ {p} }}{{ {q} }}",
             f"{2 * p}/{2 * q}", f"{sign}\\frac{{{2 * ap}}}{{{2 * q}}}", f"\\frac {{{p}}} {{{q}}}"]
    if ap < 10 and q < 10:
        forms.append(f"{sign}\\frac{ap}{q}")
    return forms


def _decimal_forms(f: Fraction, places: int) -> list[str]:
    """Decimals of f: exact when it terminates within `places`, else rounded/truncated ones."""
    scaled = f * 10**places
    out = []
    for k in {round(scaled), int(scaled), int(scaled) + 1}:
        sign, k = ("-" if k < 0 else ""), abs(k)
        s = str(k).rjust(places + 1, "0")
        whole, frac = s[:-places] if places else s, s[-places:] if places else ""
        if frac:
            out += [f"{sign}{whole}.{frac}", f"{sign}{whole}.{frac}0"]
            if whole == "0":
                out.append(f"{sign}.{frac}")
        else:
            out.append(f"{sign}{whole}")
    return out


if st is not None:
    values = st.one_of(
        st.integers(-30, 30).map(Fraction),
        st.integers(-10**7, 10**7).map(Fraction),
        st.integers(-10**22, 10**22).map(Fraction),
        st.builds(Fraction, st.integers(-200, 200), st.integers(1, 64)),
        st.builds(lambda k, p: Fraction(k, 10**p), st.integers(-10**9, 10**9), st.integers(0, 9)),
        st.builds(lambda k, p: Fraction(k, 2**p * 5**(p // 2)), st.integers(-999, 999), st.integers(0, 6)),
    )

    @st.composite
    def number_text(draw, value: Fraction) -> str:
        forms = _fraction_forms(value) + _decimal_forms(value, draw(st.integers(0, 10)))
        if value.denominator == 1:
            forms += _int_forms(int(value))
        return _spaces(draw) + draw(st.sampled_from(forms)) + _spaces(draw)

    def _near(draw, v: Fraction) -> Fraction:
        """Another value: equal, a little off (down to below the 6-place rounding), or unrelated."""
        kind = draw(st.integers(0, 4))
        if kind == 0:
            return v
        if kind == 1:
            return draw(values)
        step = Fraction(1, 10 ** draw(st.integers(0, 12)))
        return v + draw(st.sampled_from([-2, -1, 1, 2])) * step * draw(st.sampled_from([1, 3, Fraction(1, 2), 5]))

    @st.composite
    def scalar_pair(draw) -> tuple[str, str]:
        v = draw(values)
        return draw(number_text(v)), draw(number_text(_near(draw, v)))

    @st.composite
    def assignment_pair(draw) -> tuple[str, str]:
        a, g = draw(scalar_pair())
        letters = st.sampled_from("xxxxyzabnktEIeiXS")

        def wrap(text):
            return f"{draw(letters)}{_spaces(draw)}={_spaces(draw)}{text.strip()}" if draw(st.booleans()) else text

        return wrap(a), wrap(g)

    @st.composite
    def set_pair(draw) -> tuple[str, str]:
        small = st.one_of(st.integers(-40, 999).map(Fraction), st.builds(Fraction, st.integers(-9, 9), st.integers(1, 6)))
        xs = draw(st.lists(small, min_size=1, max_size=5))
        ys = list(draw(st.permutations(xs)))
        edit = draw(st.integers(0, 3))
        if edit == 1:
            ys[0] = _near(draw, ys[0])
        elif edit == 2:
            ys.append(draw(st.sampled_from(xs + [draw(small)])))
        elif edit == 3 and len(ys) > 1:
            ys.pop()

        def render(vals):
            sep = "," + _spaces(draw)
            body = sep.join(draw(st.sampled_from(_fraction_forms(v)[:2] + _int_forms(int(v))[:1] if v.denominator == 1 else _fraction_forms(v))) for v in vals)
            return f"\\{{{_spaces(draw)}{body}{_spaces(draw)}\\}}"

        return render(xs), render(ys)

    @st.composite
    def interval_pair(draw) -> tuple[str, str]:
        end = st.one_of(st.integers(-50, 50).map(Fraction), st.builds(Fraction, st.integers(-20, 20), st.integers(1, 4)))

        def render(lo, hi, left, right):
            lo_s = "-\\infty" if lo is None else draw(st.sampled_from(_fraction_forms(lo)[:2] + [str(lo)] if lo.denominator == 1 else _fraction_forms(lo)[:2]))
            hi_s = draw(st.sampled_from(["\\infty", "+\\infty"])) if hi is None else draw(st.sampled_from(_fraction_forms(hi)[:2] + [str(hi)] if hi.denominator == 1 else _fraction_forms(hi)[:2]))
            return f"{left}{lo_s},{_spaces(draw)}{hi_s}{right}"

        def draw_interval():
            lo = None if draw(st.integers(0, 5)) == 0 else draw(end)
            hi = None if draw(st.integers(0, 5)) == 0 else draw(end)
            return lo, hi, draw(st.sampled_from("([")), draw(st.sampled_from(")]"))

        a = draw_interval()
        g = a if draw(st.booleans()) else draw_interval()
        if draw(st.booleans()):  # the same ends, one bracket changed, or one end nudged
            g = (g[0], g[1], draw(st.sampled_from("([")), g[3])
        return render(*a), render(*g)

    PERTURBATIONS = [  # near misses of the forms: the fast path must read them right or not at all
        lambda t, i: t + "\\%", lambda t, i: t + "%", lambda t, i: t + ".", lambda t, i: t + "\\text{ cm}",
        lambda t, i: f"${t}$", lambda t, i: f"\\boxed{{{t}}}", lambda t, i: t[:i] + " " + t[i:],
        lambda t, i: t[:i] + "," + t[i:], lambda t, i: t[:i] + t[i + 1:], lambda t, i: t[:i] + t[i:i + 1] * 2 + t[i + 1:],
        lambda t, i: t.replace(",", "{,}"), lambda t, i: t.replace(",", "\\,"), lambda t, i: "-" + t,
        lambda t, i: t.replace("\\{", "{").replace("\\}", "}"), lambda t, i: t[:i] + "0" + t[i:],
        lambda t, i: t.replace(".", ","), lambda t, i: t + "x", lambda t, i: "\\left" + t, lambda t, i: "+" + t,
        lambda t, i: t.replace("1", "\u0661"), lambda t, i: "\u00a0" + t, lambda t, i: t[:i] + "\u2009" + t[i:],
    ]

    @st.composite
    def any_pair(draw) -> tuple[str, str]:
        a, g = draw(st.one_of(scalar_pair(), assignment_pair(), set_pair(), interval_pair()))
        if draw(st.integers(0, 3)) == 0:
            edit = draw(st.sampled_from(PERTURBATIONS))
            a = edit(a, draw(st.integers(0, max(0, len(a) - 1))))
        return (g, a) if draw(st.booleans()) else (a, g)


# PONDER_HYPOTHESIS_EXAMPLES scales the random search (e.g. 20000 for a long hunt before release).
EXAMPLES = int(os.environ.get("PONDER_HYPOTHESIS_EXAMPLES", "400"))

if st is not None:

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(pair=any_pair())
    @example(pair=("0.333333", "\\frac{1}{3}"))
    @example(pair=("x=1,000", "1000"))
    def test_fast_path_agrees_with_math_verify(pair):
        answer, gold = pair
        fast = decide(answer, gold)
        assume(fast is not None)
        assert fast == reference(answer, gold), (answer, gold)

    @settings(max_examples=max(1, EXAMPLES // 3), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(pair=any_pair(), wrap=st.sampled_from(["<answer>{}</answer>", "The answer is \\boxed{{{}}}.", "<think>\\boxed{{9}}</think><answer>{}</answer>"]))
    def test_math_score_with_shortcuts_agrees_with_math_verify(pair, wrap):
        """End to end through answer extraction and the memo: the same scores as math-verify alone."""
        answer, gold = pair
        completion = wrap.format(answer)
        equiv.new_batch()
        assert math_score(completion, gold) == math_score(completion, gold, shortcuts=False), (completion, gold)

else:

    @pytest.mark.skip(reason="hypothesis is not installed (pip install -e '.[dev]')")
    def test_fast_path_agrees_with_math_verify():
        pass


def test_worker_starts_a_new_memo_batch_per_job(tmp_path, monkeypatch):
    """The scorer forgets the memo when a chunk of another job arrives, not between chunks of one."""
    import json
    import os as _os

    from ponder.tasks import get_task
    from ponder.verify import worker

    path = tmp_path / "golds.jsonl"
    path.write_text(json.dumps({"prompt": "q", "answer": "2\\sqrt{2}", "id": "p0"}) + "\n")
    task = get_task(f"file:{path}?id=id")
    problem = task.by_level[1][0]
    ref = (task.spec, type(task).__module__)
    batches, sent = [], []
    monkeypatch.setattr(equiv, "new_batch", lambda: batches.append(len(sent)))
    chunks = [(1, 7, [ref], [problem], ["<answer>\\sqrt{8}</answer>"]),
              (2, 7, [ref], [problem], ["<answer>3</answer>"]),
              (3, 8, [ref], [problem], ["<answer>\\sqrt{8}</answer>"]), None]

    class Conn:
        recv = staticmethod(lambda: chunks.pop(0))
        send = staticmethod(sent.append)

    fd = _os.memfd_create("test-progress")
    try:
        worker.serve(Conn, worker.Progress(fd, items=4))
    finally:
        _os.close(fd)
    assert [s[1] for s in sent] == [[1.0], [0.0], [1.0]]
    assert batches == [0, 2]  # before job 7's first chunk and before job 8's
