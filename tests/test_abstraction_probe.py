"""The warm-start probe of the abstraction demo: forced-serial accuracy at the easiest level, and the
join at the hardest, told apart from the children's accuracy."""

from __future__ import annotations

import re

import pytest

from ponder.demo.abstraction_probe import PROBE_DATA_SEED, probe
from ponder.eval.config import EvalConfig
from ponder.sft.config import DATA_SEED_OFFSET
from ponder.tasks import get_task
from ponder.tasks.chains import end
from ponder.types import Completion

TAGS = {"<think>": 1, "<spawn>": 2}


class ChainsOracle:
    """A scripted chains policy (one token per character, so the tests lift the token budget): forced serial it writes the oracle trace (wrong at chain 2 when
    `bad_serial`), forced to spawn it spawns every chain, children answer right, and the parent
    copies the results into its answer (reversed when `bad_join`). Token ids: the two mode tags are
    single tokens, other characters their code points."""

    class tokenizer:  # noqa: N801 - a character tokenizer with the mode tags as single tokens
        encode = staticmethod(lambda text, add_special_tokens=False: [TAGS[text]] if text in TAGS else [ord(c) for c in text])

    def __init__(self, bad_serial=False, bad_join=False):
        self.bad_serial, self.bad_join = bad_serial, bad_join
        self.task = get_task("chains")

    def render(self, problem, suffix=""):
        return (problem if isinstance(problem, str) else problem.prompt) + "\n" + suffix

    def generate(self, prompts, n, sampling):
        return [[self._one(p) for _ in range(n)] for p in prompts]

    def _one(self, context):
        prompt, _, done = context.partition("\n")
        chains = [tuple(map(int, c.split(">"))) for c in prompt.split(",")]
        ends = [str(end(s, k)) for s, k in chains]
        if len(chains) == 1:  # a child
            text = f"<think>x</think><answer>{ends[0]}</answer>"
        elif "<result>" in done:
            got = re.findall(r"<result>(\d)</result>", done)
            text = f"<answer>{''.join(got[::-1] if self.bad_join else got)}</answer>"
        elif done.endswith("<spawn>"):
            text = "</spawn><spawn>".join(f"{s}>{k}" for s, k in chains) + "</spawn><join>"
        else:
            wrong = ends[:1] + [str((int(e) + 1) % 10) for e in ends[1:]] if self.bad_serial else ends
            text = f"x</think><answer>{''.join(wrong)}</answer>"
        return Completion(text, [ord(c) for c in text], num_tokens=len(text))


def test_a_right_warm_start_passes_both_probes():
    out = probe(ChainsOracle(), per_level=6, max_new_tokens=1000)
    assert out == {"serial_easiest": 1.0, "join_hardest": 1.0, "sub_hardest": 1.0, "spawned_hardest": 1.0}


@pytest.mark.parametrize("bad_serial,bad_join", [(True, False), (False, True)])
def test_each_probe_catches_its_own_failure(bad_serial, bad_join):
    out = probe(ChainsOracle(bad_serial=bad_serial, bad_join=bad_join), per_level=6, max_new_tokens=1000)
    assert out["serial_easiest"] == (0.0 if bad_serial else 1.0)
    assert out["join_hardest"] < 1.0 if bad_join else out["join_hardest"] == 1.0
    assert out["sub_hardest"] == 1.0  # the children are right either way: a bad join is not a bad chain


def test_probe_problems_are_not_the_held_out_ones():
    held_out, warm = EvalConfig.__dataclass_fields__["data_seed"].default, range(DATA_SEED_OFFSET, DATA_SEED_OFFSET + 100)
    assert PROBE_DATA_SEED != held_out and PROBE_DATA_SEED not in warm


def test_the_demo_records_the_probe_of_its_warm_start(tmp_path, monkeypatch):
    from ponder.demo import DemoConfig, abstraction_probe
    from ponder.demo.abstraction import stage_configs, warm_start_probe
    from ponder.policy.tiny import init_tiny

    monkeypatch.setattr(abstraction_probe, "PROBE_PER_LEVEL", 3)
    c = stage_configs(DemoConfig(axis="abstraction"), tmp_path)
    init_tiny(tmp_path / "sft" / "model")  # an untrained warm start: the probe runs, and finds nothing learnt
    out = warm_start_probe(c)["warm_start_probe"]
    assert set(out) == {"serial_easiest", "join_hardest", "sub_hardest", "spawned_hardest"}
    assert out["serial_easiest"] == 0.0 and out["join_hardest"] == 0.0
