"""Math answer equivalence: ponder's answer extraction + Hugging Face `math-verify`.

    math_score("<think>2/4</think><answer>0.5</answer>", "\\\\frac{1}{2}")  # 1.0

The final answer is taken per ponder.format (last <answer> or \\boxed{} outside <think>) and
compared with the gold by `math_verify.verify` (symbolic + numeric equality, sets, intervals,
equations `x = 3` vs `3`, percentages, thousands separators). Both sides are parsed as the
contents of a `\\boxed{}`, which is how math-verify reads a bare final answer most reliably
(e.g. `\\frac12`, `\\{1,2\\}` and `(0,1]` only parse that way); strings that still do not parse
are retried raw and as `$...$` inline math.

math-verify bounds its own work with SIGALRM, which only works in a process's main thread.
Called from any other thread, `math_score` runs without that bound; batched and
untrusted-latency scoring goes through `ponder.verify.verify_batch`, whose worker processes
call this in their main thread and are killed by the pool when an item overruns.
"""

from __future__ import annotations

import threading

from ponder.format import extract_answer


def _parse(text: str, main: bool):
    from math_verify import parse

    kw = {} if main else {"parsing_timeout": None}
    for candidate in (f"\\boxed{{{text}}}", text, f"${text}$"):
        parsed = parse(candidate, **kw)
        if parsed:
            return parsed
    return []


def math_equal(answer: str, gold: str) -> bool:
    """True when two final-answer strings are mathematically equivalent per math-verify."""
    if "".join(answer.split()) == "".join(gold.split()):
        return True  # identical up to whitespace: equal even where math-verify cannot parse
    from math_verify import verify

    main = threading.current_thread() is threading.main_thread()
    gold_p, answer_p = _parse(gold, main), _parse(answer, main)
    if not gold_p or not answer_p:
        return False
    kw = {} if main else {"timeout_seconds": None}
    return bool(verify(gold_p, answer_p, **kw))


def math_score(completion: str, gold: str) -> float:
    """1.0 if the completion's final answer equals `gold` mathematically, else 0.0."""
    answer = extract_answer(completion, math=True)
    if answer is None or not answer.strip():
        return 0.0
    try:
        return float(math_equal(answer, gold))
    except Exception:  # math-verify's own timeout, or a parser failure on odd input: no credit
        return 0.0
