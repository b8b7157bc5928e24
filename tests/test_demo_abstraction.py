"""The abstraction axis of `ponder demo`: its claims from hand-made summaries, and its dispatch."""

import math

import pytest

from ponder.demo import DemoConfig
from ponder.demo.abstraction import check_claims, stage_configs
from ponder.errors import PonderError


def _level(acc, dec, path, serial, serial_acc):
    return {"accuracy": acc, "decompose_rate": dec, "critical_path_tokens": path, "serial_tokens": serial,
            "serial_accuracy": serial_acc, "wall_s": 1.0, "serial_wall_s": 1.0}


def test_claims_follow_the_issue_definitions():
    base = {"accuracy": 0.5, "by_difficulty": {"1": _level(1, 0.5, 20, 20, 1), "5": _level(0.2, 0.5, 90, 100, 0.2)}}
    good = {"accuracy": 0.6, "by_difficulty": {"1": _level(1, 0.1, 20, 20, 1), "5": _level(0.5, 0.9, 50, 100, 0.3)}}
    c = check_claims(base, good)
    assert all(x["holds"] for x in c.values()), c
    assert c["critical_path_hardest_at_most_0.6_of_serial"]["value"] == 0.5
    assert c["accuracy_hardest_gain_over_serial_at_least_0.15"]["value"] == pytest.approx(0.2)
    bad = {"accuracy": 0.4, "by_difficulty": {"1": _level(1, 0.5, 20, 20, 1), "5": _level(0.3, 0.7, 70, 100, 0.3)}}
    c = check_claims(base, bad)
    assert not any(x["holds"] for x in c.values()), c
    none = {"accuracy": None, "by_difficulty": {"1": _level(None, None, None, 0, None), "5": _level(None, None, None, 0, None)}}
    c = check_claims(base, none)  # nothing measured: NaN values, and no claim holds
    assert math.isnan(c["critical_path_hardest_at_most_0.6_of_serial"]["value"]) and not any(x["holds"] for x in c.values())


def test_the_axis_picks_its_stages(tmp_path):
    c = stage_configs(DemoConfig(axis="abstraction"), tmp_path)
    assert c.sft.tasks == ("chains",) and c.sft.subcall_prob > 0 and c.sft.think_prob == 1.0
    assert c.train.modes == "subcall_balanced" and c.train.mode_weight == 10.0 and c.baseline.orchestrate and c.baseline.per_level == 12
    # the recipe measured on seeds 0-1 (docs/abstraction.md, runs 21-24): level 1 and level 5 weighted most
    assert c.sft.steps == 1200 and c.sft.level_weights == (5.0, 1.0, 1.0, 3.0, 8.0)
    assert c.train.steps == 80 and c.train.beta == 0.1
    with pytest.raises(PonderError, match="--axis"):
        DemoConfig(axis="nope")
