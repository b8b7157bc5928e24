"""The `tool_calls` reward: the number of tool calls a completion made (0 for a single-turn one).

    ponder train --tools calc --reward correct:1,tool_calls:-0.1

With a negative weight it is a price per call: a call is worth making only where it raises the
chance of a correct answer by more than the price, so the policy learns to answer easy prompts
directly and to call the tool on hard ones (docs/tools.md has the runs behind the default price).
"""

from __future__ import annotations


def tool_calls(problems, completions) -> list[float]:
    """Tool calls per completion (`RolloutCompletion.rollout.tool_calls`), as floats."""
    out = []
    for c in completions:
        r = getattr(c, "rollout", None)
        out.append(float(len(r.tool_calls)) if r is not None else 0.0)
    return out
