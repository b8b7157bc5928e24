"""Math answer equivalence: ponder's answer extraction + Hugging Face `math-verify`.

    math_score("<think>2/4</think><answer>0.5</answer>", "\\\\frac{1}{2}")  # 1.0

The final answer is taken per ponder.format (last <answer> or \\boxed{} outside <think>) and
compared with the gold by `math_verify.verify` (symbolic + numeric equality, sets, intervals,
equations `x = 3` vs `3`, percentages, thousands separators). Both sides are parsed as the
contents of a `\\boxed{}`, which is how math-verify reads a bare final answer most reliably
(e.g. `\\frac12`, `\\{1,2\\}` and `(0,1]` only parse that way); strings that still do not parse
are retried raw and as `$...$` inline math.

Two shortcuts give math-verify's verdict with less work, never a different one:
- `ponder.verify.fast.decide`: plain numbers, `x = number`, sets of numbers and intervals are
  compared exactly before any symbolic parse (most final answers of math datasets are of these
  forms); math-verify decides only what it cannot.
- A per-batch memo: each gold string is parsed once and each (answer, gold) verdict computed
  once until `new_batch()` (the verifier pool's workers call it when a new batch reaches
  them), so a problem's G samples share one gold parse and repeated answers one verdict.
  A "no" reached through math-verify's own timeout is not memoized (math-verify reports its
  timeout as "no"; a memo would repeat it for the batch), and a timed-out parse does not fall
  through to the next way of reading the text.
`math_score(..., shortcuts=False)` is math-verify alone, the reference both are tested
against and the single-process baseline of bench/verify.py.

math-verify bounds its own work with SIGALRM, which only works in a process's main thread.
Called from any other thread, `math_score` runs without that bound; batched and
untrusted-latency scoring goes through `ponder.verify.verify_batch`, whose worker processes
call this in their main thread and are killed by the pool when an item overruns.
"""

from __future__ import annotations

import threading
import time

from ponder.format import extract_answer
from ponder.verify.fast import decide

MEMO_MAX = 8192  # entries per memo; past it the memo starts over (a batch larger than this just re-parses)
MV_TIMEOUT_S = 5  # math-verify's default per-comparison timeout (seconds), which the main thread runs under
_gold_parses: dict[str, list] = {}
_verdicts: dict[tuple[str, str], bool] = {}


def new_batch() -> None:
    """Forget the memo: gold parses and verdicts are reused within a batch, not across."""
    _gold_parses.clear()
    _verdicts.clear()


class _TimedOut(Exception):
    """math-verify's own timeout hit a parse: the text's reading is unknown, not empty."""


def _parse(text: str, main: bool):
    """The first candidate reading of `text` that parses; [] if none does. A candidate whose
    parse times out raises _TimedOut rather than falling through to the next candidate, which
    reads the text differently (`46\\%` unboxed is not 0.46)."""
    from math_verify import parse
    from math_verify.errors import TimeoutException

    kw = {} if main else {"parsing_timeout": None}
    for candidate in (f"\\boxed{{{text}}}", text, f"${text}$"):
        try:
            parsed = parse(candidate, raise_on_error=True, **kw)
        except TimeoutException:
            raise _TimedOut(candidate) from None
        except Exception:  # noqa: BLE001 - what parse() turns into [] without raise_on_error
            parsed = []
        if parsed:
            return parsed
    return []


def _remember(memo: dict, key, value):
    if len(memo) >= MEMO_MAX:
        memo.clear()
    memo[key] = value
    return value


def _math_verify(answer: str, gold: str, memo: bool) -> tuple[bool, bool]:
    """(verdict, settled). Not settled: a parse or the comparison ran into math-verify's own
    timeout (a stalled worker on a loaded machine can), which math-verify would report as a
    plain "no"; such a "no" is returned but never memoized, so it cannot spread to the rest of
    the batch."""
    from math_verify import verify

    main = threading.current_thread() is threading.main_thread()
    try:
        gold_p = _gold_parses.get(gold) if memo else None
        if gold_p is None:
            gold_p = _parse(gold, main)
            if memo:
                _remember(_gold_parses, gold, gold_p)
        answer_p = _parse(answer, main)
    except _TimedOut:
        return False, False
    if not gold_p or not answer_p:
        return False, True
    kw = {} if main else {"timeout_seconds": None}
    t0 = time.monotonic()
    verdict = bool(verify(gold_p, answer_p, **kw))
    return verdict, verdict or time.monotonic() - t0 < MV_TIMEOUT_S


def math_equal(answer: str, gold: str, *, shortcuts: bool = True) -> bool:
    """True when two final-answer strings are mathematically equivalent per math-verify.

    `shortcuts=False` skips the exact fast path and the per-batch memo (the reference)."""
    if "".join(answer.split()) == "".join(gold.split()):
        return True  # identical up to whitespace: equal even where math-verify cannot parse
    if not shortcuts:
        return _math_verify(answer, gold, memo=False)[0]
    fast = decide(answer, gold)
    if fast is not None:
        return fast
    verdict = _verdicts.get((answer, gold))
    if verdict is None:
        verdict, settled = _math_verify(answer, gold, memo=True)
        if settled:
            _remember(_verdicts, (answer, gold), verdict)
    return verdict


def math_score(completion: str, gold: str, *, shortcuts: bool = True) -> float:
    """1.0 if the completion's final answer equals `gold` mathematically, else 0.0.

    `shortcuts=False`: math-verify on every item (see the module docstring)."""
    answer = extract_answer(completion, math=True)
    if answer is None or not answer.strip():
        return 0.0
    try:
        return float(math_equal(answer, gold, shortcuts=shortcuts))
    except Exception:  # math-verify's own timeout, or a parser failure on odd input: no credit
        return 0.0
