"""The calibration demo's claims, computed by hand on made-up evaluations."""

from __future__ import annotations

from ponder.demo.stage import check_claims


def _summary(accuracy, levels):
    return {"accuracy": accuracy, "by_difficulty": {str(d): {"think_rate": t, "mean_tokens": n, "accuracy": a}
                                                    for d, (t, n, a) in enumerate(levels, 1)}}


BASE = _summary(0.86, [(0.8, 8.0, 1.00), (0.8, 14.0, 0.93), (0.7, 17.0, 0.82), (0.8, 27.0, 0.83), (0.7, 33.0, 0.73)])


def test_every_claim_holds_for_a_calibrated_more_accurate_policy():
    trained = _summary(0.90, [(0.04, 3.3, 1.00), (0.6, 11.0, 0.94), (0.8, 18.0, 0.87), (0.8, 29.0, 0.90), (0.78, 37.0, 0.79)])
    c = check_claims(BASE, trained)
    assert all(v["holds"] for v in c.values()), c
    assert c["tokens_easiest_at_most_half_baseline"]["threshold"] == 4.0  # half of 8.0
    assert abs(c["accuracy_at_least_baseline_minus_1pt"]["threshold"] - 0.85) < 1e-12
    # no level lost accuracy: the worst "loss" is level 1's 1.00 -> 1.00, i.e. 0
    assert c["no_level_loses_more_than_0.03"]["value"] == 0.0


def test_a_level_that_loses_four_points_fails_the_per_level_claim_only():
    # level 2 drops 0.93 -> 0.89 (4 points) while the overall accuracy still beats the baseline
    trained = _summary(0.90, [(0.0, 3.0, 1.00), (0.3, 9.0, 0.89), (0.8, 18.0, 0.87), (0.8, 29.0, 0.90), (0.8, 37.0, 0.79)])
    c = check_claims(BASE, trained)
    assert abs(c["no_level_loses_more_than_0.03"]["value"] - 0.04) < 1e-12
    assert not c["no_level_loses_more_than_0.03"]["holds"]
    assert [k for k, v in c.items() if not v["holds"]] == ["no_level_loses_more_than_0.03"]


def test_a_loss_of_exactly_three_points_holds_whatever_the_float_rounding():
    # 0.73 - 0.70 is 0.030000000000000027 in floating point, 0.94 - 0.91 is 0.0299999...:
    # both are a loss of exactly 3 points and both hold (before, the first failed)
    for before, after in ((0.73, 0.70), (0.94, 0.91)):
        base = _summary(0.86, [(0.8, 8.0, before)] + [(0.8, 20.0, 0.8)] * 4)
        trained = _summary(0.90, [(0.0, 3.0, after)] + [(0.8, 20.0, 0.8)] * 4)
        assert check_claims(base, trained)["no_level_loses_more_than_0.03"]["holds"], (before, after)
    base = _summary(0.86, [(0.8, 8.0, 0.74)] + [(0.8, 20.0, 0.8)] * 4)
    trained = _summary(0.90, [(0.0, 3.0, 0.70)] + [(0.8, 20.0, 0.8)] * 4)  # 4 points
    assert not check_claims(base, trained)["no_level_loses_more_than_0.03"]["holds"]


def test_claims_never_hold_on_a_missing_or_nan_value():
    from ponder.demo.claims import at_least, at_most

    assert not at_least(float("nan"), 0.5)["holds"] and not at_most(float("nan"), 0.5)["holds"]
    assert not at_least(None, 0.5)["holds"] and not at_most(None, 0.5)["holds"]
    assert at_least(0.5, 0.5)["holds"] and not at_least(0.5 - 1e-6, 0.5)["holds"]


def test_the_warm_start_draws_level_one_three_times_as_often_as_sft_default(tmp_path):
    # RL makes level 1 answer directly, so the warm start's direct level-1 answers must be sharp:
    # the demo draws level 1 at 3/11 of its examples where `ponder sft` draws it at 1/9
    from ponder.demo.config import DemoConfig
    from ponder.demo.stage import stage_configs
    from ponder.sft.config import DEFAULT_LEVEL_WEIGHT

    sft = stage_configs(DemoConfig(), tmp_path).sft
    share = sft.level_weights[0] / sum(sft.level_weights)
    default = [DEFAULT_LEVEL_WEIGHT.get(d, 1.0) for d in sft.levels]
    assert abs(share - 3 / 11) < 1e-12
    assert share > 2 * default[0] / sum(default)
    assert sft.level_weights[1:] == tuple(default[1:])  # the other levels as `ponder sft` weighs them
