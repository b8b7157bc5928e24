"""ponder's output format, formatted and parsed in one place.

A completion is, in order:

    [<plan>step; step; ...</plan>] [<think>worked trace</think>] <answer>final answer</answer>

Every part but the answer is optional. Rules the verifiers and metrics rely on:
- When a completion holds several final answers, the last one counts.
- Text inside `<think>` is never taken as the answer (an unclosed `<think>` runs to the end).
- For math, the last `\\boxed{...}` outside `<think>` also counts as a final answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PLAN_OPEN, PLAN_CLOSE = "<plan>", "</plan>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
TAGS = (PLAN_OPEN, PLAN_CLOSE, THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
# the markers of a multi-turn rollout's sub-calls (ponder.rollout.subcalls): the policy writes the
# first three, the runtime injects the results
SPAWN_OPEN, SPAWN_CLOSE, JOIN = "<spawn>", "</spawn>", "<join>"
RESULT_OPEN, RESULT_CLOSE = "<result>", "</result>"
CALL_TAGS = (SPAWN_OPEN, SPAWN_CLOSE, JOIN, RESULT_OPEN, RESULT_CLOSE)
PLAN_SEP = ";"  # plan steps are separated by ';'

_THINK_RE = re.compile(re.escape(THINK_OPEN) + r"(.*?)(?:" + re.escape(THINK_CLOSE) + r"|\Z)", re.S)
_ANSWER_RE = re.compile(re.escape(ANSWER_OPEN) + r"(.*?)" + re.escape(ANSWER_CLOSE), re.S)
_PLAN_RE = re.compile(re.escape(PLAN_OPEN) + r"(.*?)" + re.escape(PLAN_CLOSE), re.S)
_WELL_FORMED_RE = re.compile(
    r"\s*(?:<plan>(?:(?!<).)*?</plan>\s*)?(?:<think>(?:(?!<think>|</think>|<answer>).)*?</think>\s*)?"
    r"<answer>(?:(?!<).)*?</answer>\s*\Z",
    re.S,
)


def format_completion(answer: str, think: str | None = None, plan: list[str] | str | None = None) -> str:
    """Render a completion in ponder's format (the inverse of `parse`)."""
    out = []
    if plan is not None:
        steps = plan if isinstance(plan, str) else PLAN_SEP.join(plan)
        out.append(f"{PLAN_OPEN}{steps}{PLAN_CLOSE}")
    if think is not None:
        out.append(f"{THINK_OPEN}{think}{THINK_CLOSE}")
    out.append(f"{ANSWER_OPEN}{answer}{ANSWER_CLOSE}")
    return "".join(out)


@dataclass(frozen=True)
class Parsed:
    answer: str | None  # last <answer> (or, with math=True, last \boxed) outside <think>
    think: str | None  # contents of the <think> block(s), joined; None if absent
    plan: str | None  # contents of the last <plan> block outside <think>; None if absent
    well_formed: bool  # exactly [plan][think]answer, nothing else

    @property
    def has_think(self) -> bool:
        return self.think is not None

    @property
    def plan_steps(self) -> list[str]:
        return split_plan(self.plan) if self.plan is not None else []


def split_plan(plan: str) -> list[str]:
    return [s.strip() for s in re.split(r"[;\n]", plan) if s.strip()]


def strip_think(text: str) -> str:
    """The text with every <think> block removed (an unclosed one runs to the end)."""
    return _THINK_RE.sub(" ", text)


_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _boxed_contents(text: str) -> list[tuple[int, str]]:
    """(end position, contents) of every balanced \\boxed{...} / \\fbox{...} in `text`."""
    out = []
    for m in _BOXED_RE.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append((i, text[m.end() : i - 1]))
    return out


def last_boxed(text: str) -> str | None:
    """Contents of the last \\boxed{...} in `text` (braces balanced), or None."""
    boxes = _boxed_contents(text)
    return max(boxes)[1] if boxes else None


def parse(text: str, math: bool = False) -> Parsed:
    thinks = [m.group(1) for m in _THINK_RE.finditer(text)]
    outside = strip_think(text)
    candidates: list[tuple[int, str]] = [(m.end(), m.group(1).strip()) for m in _ANSWER_RE.finditer(outside)]
    if math:
        candidates += [(end, box.strip()) for end, box in _boxed_contents(outside)]
    answer = max(candidates)[1] if candidates else None
    plans = _PLAN_RE.findall(outside)
    return Parsed(
        answer=answer,
        think="".join(thinks) if thinks else None,
        plan=plans[-1] if plans else None,
        well_formed=bool(_WELL_FORMED_RE.match(text)),
    )


def extract_answer(text: str, math: bool = False) -> str | None:
    """The final answer of a completion per the rules above, or None."""
    return parse(text, math=math).answer


def segments(text: str) -> dict[str, tuple[int, int] | None]:
    """Character spans (start, end) of the plan, think and answer blocks, tags included.

    Backends use these to split token counts into think / answer.
    """
    out: dict[str, tuple[int, int] | None] = {"plan": None, "think": None, "answer": None}
    m = _PLAN_RE.search(text)
    if m:
        out["plan"] = m.span()
    m = _THINK_RE.search(text)
    if m:
        out["think"] = m.span()
    ms = list(_ANSWER_RE.finditer(text))
    if ms:
        out["answer"] = ms[-1].span()
    return out


# -- lenient extraction: for models never trained on ponder's tags ---------------------------------
# Tried in order after the strict rules above find no answer; each returns the last match outside
# <think>. "the answer is X" takes X up to the end of its sentence (a period followed by a space or the
# end, so 3.5 survives); the final number is the last integer, decimal or fraction in the text.
_ANSWER_IS_RE = re.compile(r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*(.+?)(?:\.\s|\.?\s*\n|\.?\s*\Z)",
                           re.IGNORECASE)
_NUMBER_RE = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


def _answer_is(text: str) -> str | None:
    hits = _ANSWER_IS_RE.findall(text)
    return hits[-1].strip().strip("$*").strip() or None if hits else None


def _final_number(text: str) -> str | None:
    hits = _NUMBER_RE.findall(text)
    return hits[-1].replace(",", "").lstrip("+") if hits else None


LENIENT_RULES = {  # name -> rule, in the order they are tried
    "boxed": last_boxed,
    "answer_is": _answer_is,
    "last_number": _final_number,
}


def extract_lenient(text: str, math: bool = False) -> tuple[str | None, str | None]:
    """(answer, rule): the strict answer when there is one (rule "strict"), else the first of
    LENIENT_RULES that matches outside <think>; (None, None) when nothing does."""
    strict = extract_answer(text, math=math)
    if strict is not None:
        return strict, "strict"
    outside = strip_think(text)
    for name, rule in LENIENT_RULES.items():
        got = rule(outside)
        if got:
            return got.strip(), name
    return None, None


def as_tagged(text: str, math: bool = False) -> tuple[str, str | None]:
    """(text, rule): `text` with `<answer>X</answer>` appended when only lenient extraction finds X,
    so every verifier (which reads ponder's tags) scores X unchanged; the text as it is otherwise."""
    answer, rule = extract_lenient(text, math=math)
    if rule in (None, "strict"):
        return text, rule
    unclosed = text.rfind(ANSWER_OPEN) > text.rfind(ANSWER_CLOSE)  # an answer cut off by the length limit
    return text + (ANSWER_CLOSE if unclosed else "") + format_completion(answer), rule


# --extract: what a scoring stage hands its verifiers ("strict" keeps the text as the model wrote it)
EXTRACTIONS = {
    "strict": lambda text, math=False: (text, "strict" if extract_answer(text, math=math) is not None else None),
    "lenient": as_tagged,
}
