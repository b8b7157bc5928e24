"""Rollouts with environment turns (DESIGN.md "Rollouts with environment turns").

    from ponder.rollout import Limits, SubCalls, run_multiturn
    rollouts = run_multiturn(policy, [policy.render(p) for p in problems], SubCalls(), sampling, Limits())
    r = rollouts[0]
    r.text, r.segments, r.children, r.loss_mask(), r.generated_tokens, r.critical_path_tokens

- types.py: Segment (policy or env text with its token ids), Rollout, Limits.
- multiturn.py: the Environment protocol and `run_multiturn` (any backend); RolloutCompletion.
- subcalls.py: SubCalls, the environment whose calls are sub-problems for the policy itself.
"""

from ponder.rollout.multiturn import Environment, Injection, RolloutCompletion, as_completion, run_multiturn
from ponder.rollout.subcalls import JOIN, SubCalls, spawns
from ponder.rollout.types import Limits, Rollout, Segment

__all__ = ["JOIN", "Environment", "Injection", "Limits", "Rollout", "RolloutCompletion", "Segment", "SubCalls",
           "as_completion", "run_multiturn", "spawns"]
