"""A cheap probe of an abstraction warm start: the two skills the demo's claims need of it.

    python -m ponder.demo.abstraction_probe runs/demo-abs/sft/model [--per-level 24]

The demo's claims at the ends of the level range are decided by the warm start, not by RL
(docs/abstraction.md, runs 10-12): `decompose_rate_easiest_at_most_0.3` can hold only where the
model's *serial* answers at the easiest level are right (else splitting pays there and RL rightly
raises it), and the hardest-level claims only where its parent *joins* the children's results
into the answer. The probe measures exactly those two, forced so that the warm start's random
choice of mode does not thin the sample:

- `serial_easiest`: accuracy of greedy rollouts forced to open with `<think>` (no sub-calls) at
  the easiest level;
- `join_hardest`: accuracy of greedy multi-turn rollouts forced to open with `<spawn>` at the
  hardest level (children run as in the orchestrator), and `sub_hardest`, its children's accuracy
  against the gold parts (so a failed join is told apart from failed chains).

Problems come from `PROBE_DATA_SEED`, apart from the evaluation's (`EvalConfig.data_seed`, 9999)
and the warm start's (seed + 1000), so a recipe chosen on the probe is not chosen on the held-out
problems. All problems of one probe run as one batched rollout: seconds on the tiny model.
"""

from __future__ import annotations

import argparse
import json

PROBE_DATA_SEED = 7777  # apart from eval's 9999 and the warm start's seed + 1000
PROBE_PER_LEVEL = 24
PROBE_MAX_NEW_TOKENS = 128  # the demo's per-rollout context (ponder.demo.abstraction.EVAL_MAX_NEW_TOKENS)


def _forced(policy, problems, tag: str, env, max_new_tokens: int):
    """Greedy rollouts of `problems`, each forced to open with `tag`."""
    from ponder.rl.modes import _ForcedFirst, mode_token_ids
    from ponder.rollout import Limits, run_multiturn
    from ponder.types import Sampling

    greedy = Sampling.to_answer(temperature=0.0, max_new_tokens=max_new_tokens, seed=0)
    tid = mode_token_ids(policy.tokenizer, (tag,))[0]
    return run_multiturn(_ForcedFirst(policy, tag, tid), [policy.render(p) for p in problems], env, greedy,
                         Limits(max_turns=2, max_tokens=max_new_tokens))


def probe(policy, task_name: str = "chains", *, easiest: int = 1, hardest: int = 5, per_level: int = PROBE_PER_LEVEL,
          data_seed: int = PROBE_DATA_SEED, max_new_tokens: int = PROBE_MAX_NEW_TOKENS) -> dict:
    """{serial_easiest, join_hardest, sub_hardest, spawned_hardest} of `policy` (see the module docstring);
    `spawned_hardest` is the share of forced-spawn rollouts that ran at least one child."""
    from ponder.eval.orchestrator import gold_parts
    from ponder.format import extract_answer
    from ponder.rollout import SubCalls, spawns
    from ponder.stats import mean
    from ponder.tasks import get_task

    task = get_task(task_name)
    easy = task.sample(per_level, easiest, seed=data_seed)
    hard = task.sample(per_level, hardest, seed=data_seed)
    serial = _forced(policy, easy, "<think>", None, max_new_tokens)
    joined = _forced(policy, hard, "<spawn>", SubCalls(), max_new_tokens)
    subs = []
    for p, r in zip(hard, joined):
        gold = gold_parts(task, p) or {}
        asked = [q for seg in r.segments if seg.source == "policy" for q in spawns(seg.text)]
        subs += ["".join(q.split()) in gold and extract_answer(c.text) == gold["".join(q.split())]
                 for q, c in zip(asked, r.children)]
    return {"serial_easiest": mean([task.verify(r.text, p) >= 1.0 for p, r in zip(easy, serial)]),
            "join_hardest": mean([task.verify(r.text, p) >= 1.0 for p, r in zip(hard, joined)]),
            "sub_hardest": mean(subs), "spawned_hardest": mean([bool(r.children) for r in joined])}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="model directory (a warm start's sft/model)")
    ap.add_argument("--per-level", type=int, default=PROBE_PER_LEVEL, help="problems per probed level")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    import torch

    from ponder.policy import load_policy

    torch.set_num_threads(args.threads)
    out = probe(load_policy(args.model, "hf"), per_level=args.per_level)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
