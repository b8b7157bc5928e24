"""reasoning-gym adapter: refusals and flags, levels, reproducibility across processes and hash
seeds, scoring against the carried entry, generation budgets, and answers that try to forge their
own score. Needs the gym extra (pip install 'ponder[gym]'): -m gym. The contract over every
dataset is tests/test_gym_contract.py."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

pytest.importorskip("reasoning_gym")
pytestmark = pytest.mark.gym

from ponder.errors import PonderError  # noqa: E402
from ponder.tasks import NoOracle, get_task, warnings_for  # noqa: E402
from ponder.tasks import gym  # noqa: E402
from ponder.tasks.gym import catalog, dataset_names, level_range, rg_level  # noqa: E402
from ponder.tasks.rg_score import scorer  # noqa: E402
from ponder.tasks.rg_tables import GAMEABLE, NO_ORACLE, REFUSED  # noqa: E402
from ponder.types import Problem  # noqa: E402
from ponder.verify import verify_batch  # noqa: E402

# scorers that compare strings, parse numbers, eval (n_queens, spiral_matrix), use sympy (countdown, puzzle24)
SAMPLE = ["chain_sum", "countdown", "n_queens", "puzzle24", "spell_backward", "spiral_matrix", "gsm_symbolic"]


def ponder(*args):
    return subprocess.run([sys.executable, "-m", "ponder", *args], capture_output=True, text=True, timeout=300)


def test_every_rg_dataset_is_a_task_or_refused_in_one_line():
    names = dataset_names()
    assert len(names) > 90
    for name in names:
        if name in REFUSED:
            with pytest.raises(PonderError, match=f"rg/{name} is not supported: "):
                get_task(f"rg/{name}")
        else:
            t = get_task(f"rg/{name}")
            assert t.levels in ((1,), (1, 2, 3, 4, 5))
            assert t.has_oracle == (name not in NO_ORACLE) and t.gameable == GAMEABLE.get(name, "")


def test_tasks_list_groups_every_dataset_with_levels_and_flags():
    r = ponder("tasks", "list")
    assert r.returncode == 0, r.stderr
    heading, *rows = r.stdout.partition("\n\n")[2].splitlines()
    assert heading.startswith("reasoning-gym tasks")
    listed, group = {}, None
    for row in rows:
        if not row.startswith("    "):
            group = row.strip().rstrip(":")
            continue
        name, levels, *rest = row.split()
        listed[name] = (group, levels, " ".join(rest))
    assert sorted(listed) == [f"rg/{n}" for n in dataset_names()]
    assert listed["rg/chain_sum"] == ("arithmetic", "1-5", "")
    assert listed["rg/game_of_life_halting"][2] == "[gameable]"
    assert listed["rg/rush_hour"][2] == "[no oracle]"
    assert listed["rg/composite"][2].startswith("refused: it mixes other rg datasets")
    assert listed["rg/acre"][1] == "1"
    assert {row["category"] for row in catalog()} >= {"algebra", "arithmetic", "games", "logic"}


def test_tasks_show_prints_the_flags():
    r = ponder("tasks", "show", "rg/game_of_life_halting")
    assert r.returncode == 0, r.stderr
    assert f"gameable: {GAMEABLE['game_of_life_halting']}" in r.stdout
    r = ponder("tasks", "show", "rg/rush_hour")
    assert r.returncode == 0, r.stderr
    assert "oracle: none" in r.stdout and "  oracle: <answer>" not in r.stdout


def test_warnings_for_gameable_tasks():
    assert warnings_for(["arith", "rg/chain_sum"]) == []
    (line,) = warnings_for(["rg/chain_sum", "rg/game_of_life_halting"])
    assert line.startswith("warning: rg/game_of_life_halting's reward can be gamed: rg scores any non-empty")


def test_level_mapping_spreads_ponder_levels_over_rg_levels():
    assert [rg_level(d, 0, 3) for d in range(1, 6)] == [0, 1, 2, 2, 3]  # hand-computed ((d-1)*3+2)//4
    assert [rg_level(d, 0, 4) for d in range(1, 6)] == [0, 1, 2, 3, 4]
    assert [rg_level(d, 0, 0) for d in range(1, 6)] == [0, 0, 0, 0, 0]
    assert [rg_level(d, 1, 13) for d in range(1, 6)] == [1, 4, 7, 10, 13]  # 1 + ((d-1)*12+2)//4
    assert level_range("countdown") == (0, 3)
    assert level_range("jugs") == (0, 1)  # its higher levels generate too slowly (rg_tables.RG_LEVELS)
    assert level_range("sokoban") == (1, 13)
    assert level_range("acre") is None


@pytest.mark.parametrize("name", SAMPLE)
def test_contract(name):
    task = get_task(f"rg/{name}")
    for d in (task.levels[0], task.levels[-1]):
        problems = task.sample(2, d, seed=0)
        assert problems == task.sample(2, d, seed=0)  # deterministic
        for p in problems:
            assert Problem.from_json(p.to_json()) == p
            assert task.verify(task.oracle(p), p) == 1.0
            assert task.verify("", p) == 0.0
            assert task.verify("<answer></answer>", p) == 0.0
            assert task.verify("<think>" + task.oracle(p) + "</think>", p) == 0.0  # answer in think
            s = get_task(f"rg/{name}?partial=1").verify("<answer>zzz</answer>", p)
            assert 0.0 <= s < 1.0


HASH_SENSITIVE = ["polynomial_multiplication", "isomorphic_strings", "ransom_note", "codeio"]


def test_generation_identical_across_processes_hash_seeds_and_order():
    # these datasets' items depend on PYTHONHASHSEED (sets of strings), and codeio's on which
    # level was built before (class-level data): each process builds the levels in another order
    code = ("import json, sys; from ponder.tasks import get_task; out = {}\n"
            f"for name in {HASH_SENSITIVE!r}:\n"
            "    t = get_task('rg/' + name)\n"
            "    for d in sorted(t.levels, reverse=sys.argv[1] == 'down'):\n"
            "        out[f'{name}/{d}'] = [p.to_dict() for p in t.sample(2, d, seed=3)]\n"
            "print(json.dumps(out, sort_keys=True))")
    outs = {subprocess.run([sys.executable, "-c", code, order], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h, order in (("1", "up"), ("2", "down"))}
    assert len(outs) == 1
    here = {f"{n}/{d}": [p.to_dict() for p in get_task(f"rg/{n}").sample(2, d, seed=3)]
            for n in HASH_SENSITIVE for d in get_task(f"rg/{n}").levels}
    assert json.loads(outs.pop()) == here


def test_an_item_does_not_depend_on_what_the_helper_generated_before():
    # decimal_arithmetic sets the decimal precision process-wide; decimal_chain_sum's answers
    # generated after it in the same helper used to come out rounded
    from ponder.tasks.rg_gen import generator

    def chain_sum_item(before: list[str]) -> Problem:
        generator().close()
        gym._entry.cache_clear()
        for name in before:
            get_task(f"rg/{name}").sample(3, 5, seed=0)
        return get_task("rg/decimal_chain_sum").generate(0, 1, 3)

    assert chain_sum_item(["decimal_arithmetic"]) == chain_sum_item([])


def test_a_generator_that_squares_for_minutes_is_cut_short_without_changing_items():
    # rg's number_sequence squares terms it will reject anyway; these items took 13 s to minutes
    t0 = time.monotonic()
    items = [get_task("rg/number_sequence").generate(0, i, 5) for i in (22, 25, 34, 50)]
    assert time.monotonic() - t0 < 10
    assert all(abs(int(p.answer)) <= 1000 for p in items)  # rg's own bound on an "interesting" sequence


def test_scoring_uses_the_carried_entry_not_a_regeneration():
    task = get_task("rg/chain_sum")
    p = task.generate(0, 0, 3)
    elsewhere = copy.deepcopy(p.meta)
    elsewhere["rg"]["recipe"]["seed"] += 1  # a regeneration would now build another item
    moved = Problem(p.id, p.task, p.prompt, p.answer, p.difficulty, elsewhere)
    assert task.verify(task.oracle(p), moved) == 1.0
    uncarried = copy.deepcopy(elsewhere)
    uncarried["rg"]["carried"] = {}
    assert task.verify(task.oracle(p), Problem(p.id, p.task, p.prompt, p.answer, p.difficulty, uncarried)) == 0.0


def test_an_uncarried_entry_is_regenerated_with_the_generators_hash_seed():
    # polynomial_multiplication's items depend on the hash seed: the scorer regenerates it
    # under PYTHONHASHSEED=0, as generation ran, so the gold answer still scores 1.0
    task = get_task("rg/polynomial_multiplication")
    for p in task.sample(3, 3, seed=1):
        meta = copy.deepcopy(p.meta)
        meta["rg"]["carried"] = {}
        bare = Problem(p.id, p.task, p.prompt, p.answer, p.difficulty, meta)
        assert task.verify(task.oracle(p), bare) == 1.0


def test_a_problem_without_a_recipe_is_refused_in_one_line():
    task = get_task("rg/chain_sum")
    p = task.generate(0, 0, 1)
    old = Problem(p.id, p.task, p.prompt, p.answer, p.difficulty, {"rg": {"dataset": "chain_sum", "index": 0}})
    with pytest.raises(PonderError, match="lacks the recipe"):
        task.verify(task.oracle(p), old)


def test_slow_generation_fails_with_one_line_within_its_budget(monkeypatch):
    monkeypatch.setattr(gym, "GEN_BUDGET_S", 0.001)
    t0 = time.monotonic()
    with pytest.raises(PonderError, match=r"rg/knight_swap: item 5 at difficulty 5 took over 0.001 s to generate"):
        get_task("rg/knight_swap").generate(99, 5, 5)
    assert time.monotonic() - t0 < 10
    monkeypatch.undo()
    assert get_task("rg/chain_sum").generate(99, 5, 1).prompt  # the helper restarts


def test_items_whose_gold_rg_rejects_have_no_oracle():
    task = get_task("rg/jugs")
    p = task.generate(0, 0, 4)  # rg answers '["No solution"]' to this solvable puzzle and scores it 0
    assert p.answer == '["No solution"]' and p.meta["rg"]["gold_ok"] is False
    with pytest.raises(NoOracle, match="rejects its reference answer"):
        task.oracle(p)
    assert task.verify(f"<answer>{p.answer}</answer>", p) == 0.0


def test_datasets_without_reference_answers_report_no_oracle():
    task = get_task("rg/rush_hour")
    p = task.generate(0, 0, 1)
    assert not task.has_oracle and p.answer == "" and p.meta["rg"]["gold_ok"] is None
    with pytest.raises(NoOracle):
        task.oracle(p)
    assert task.verify("<answer>A+1</answer>", p) == 0.0


def test_partial_credit_is_opt_in():
    p = get_task("rg/countdown").sample(1, 1, seed=0)[0]
    wrong = "<answer>1 + 2</answer>"  # parses, uses the wrong numbers: rg gives 0.05
    assert get_task("rg/countdown").verify(wrong, p) == 0.0
    assert get_task("rg/countdown?partial=1").verify(wrong, p) == pytest.approx(0.05)


def test_unknown_dataset_and_option():
    with pytest.raises(PonderError, match="did you mean rg/countdown"):
        get_task("rg/countdwn")
    with pytest.raises(PonderError, match="unknown"):
        get_task("rg/countdown?colour=red")


# -- answers that try to change their own verdict --------------------------------------------
FORGE = "[__import__('os').write(fd, b'1.0') for fd in range(3, 64)] and __import__('os')._exit(0)"


def test_an_answer_cannot_forge_its_score_through_an_eval_ing_scorer():
    # n_queens, spiral_matrix and binary_matrix eval() the answer; code there could write its own
    # score to the result pipe and exit (this scored 1.0 before the guard)
    for name in ("n_queens", "spiral_matrix", "binary_matrix"):
        task = get_task(f"rg/{name}?partial=1")
        p = task.generate(0, 0, 1)
        for attack in (FORGE, "__import__('builtins').__dict__.update(float=lambda *a: 1)",
                       "__import__('os').kill(1, 9)"):  # PID 1 of the sandbox is the scoring server
            restarts = scorer().restarts
            assert task.verify(f"<answer>{attack}</answer>", p) < 1.0, (name, attack)
            assert scorer().restarts == restarts  # the server was not touched
        assert task.verify(task.oracle(p), p) == 1.0


def test_an_answer_cannot_forge_its_score_through_sympy():
    # countdown, puzzle24 and the integration / polynomial tasks hand the answer to sympy's
    # parse_expr (an eval): only plain expressions reach it, checked inside the sandbox server
    cases = {"countdown": [FORGE, "__import__('os')._exit(0)"],
             "intermediate_integration": [FORGE, "x + eval(chr(95) + chr(95) + chr(105))", "x.__class__"]}
    for name, attacks in cases.items():
        task = get_task(f"rg/{name}")
        p = task.generate(0, 0, 2)
        for attack in attacks:
            # straight to the server, past nothing: the server's own check refuses it
            assert scorer().score(task.request(p, attack)) == 0.0
            assert scorer().last_error.startswith("answer refused")
        assert task.verify(task.oracle(p), p) == 1.0


def test_hostile_answers_leave_no_trace_and_time_out():
    tag = uuid.uuid4().hex
    task = get_task("rg/n_queens")
    p = task.generate(0, 0, 1)
    for h in (f"__import__('os').system('touch /tmp/ponder-pwned-{tag}')", f"open('/tmp/ponder-pwned-{tag}', 'w')"):
        assert task.verify(f"<answer>{h}</answer>", p) == 0.0
    assert not os.path.exists(f"/tmp/ponder-pwned-{tag}")
    # a scorer that runs long on an answer is cut off at the item's limit
    big = get_task("rg/polynomial_multiplication")
    q = big.generate(0, 0, 1)
    t0 = time.monotonic()
    assert scorer().score(big.request(q, "+".join(["(x+1)**99"] * 300)), timeout_s=1.0) == 0.0
    assert time.monotonic() - t0 < 15.0
    assert task.verify(task.oracle(p), p) == 1.0  # and the scorer carries on


def test_rg_through_the_verifier_pool():
    task = get_task("rg/chain_sum")
    problems = task.sample(4, 2, seed=1)
    completions = [task.oracle(p) for p in problems[:2]] + ["<answer>-1</answer>"] * 2
    assert verify_batch(problems, completions, timeout_s=10.0) == [1.0, 1.0, 0.0, 0.0]
