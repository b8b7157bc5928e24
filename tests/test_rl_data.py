"""Prompt sources: deterministic from (seed, cursor), curriculum-gated, resumable from state."""

from ponder.rl.data import PromptSource, make_curriculum
from ponder.runs import write_problems
from ponder.tasks import get_task


def test_task_source_cycles_levels_and_resumes():
    a = PromptSource.from_task("arith", levels=(1, 3), seed=5)
    first = a.take(4)
    assert [p.difficulty for p in first] == [1, 3, 1, 3]
    assert first[2] == get_task("arith").generate(5, 2, 1)  # item i is generate(seed, i, level)
    b = PromptSource.from_task("arith", levels=(1, 3), seed=5)
    b.load_state_dict(a.state_dict())
    assert b.take(3) == a.take(3)


def test_curriculum_gates_levels_and_its_state_travels():
    cur = make_curriculum((1, 2, 3))
    src = PromptSource.from_task("arith", levels=(1, 2, 3), seed=0, curriculum=cur)
    assert {p.difficulty for p in src.take(6)} == {1}  # the curriculum starts on level 1 alone
    for _ in range(4):
        cur.update({1: 1.0})
    assert 2 in cur.levels()
    state = src.state_dict()
    other = PromptSource.from_task("arith", levels=(1, 2, 3), seed=0, curriculum=make_curriculum((1, 2, 3)))
    other.load_state_dict(state)
    assert other.open_levels() == src.open_levels() and other.take(5) == src.take(5)


def test_file_source_walks_a_seeded_permutation(tmp_path):
    problems = get_task("arith").sample(5, 1, seed=1) + get_task("arith").sample(5, 2, seed=1)
    write_problems(tmp_path / "p.jsonl", problems)
    src = PromptSource.from_file(str(tmp_path / "p.jsonl"), levels=(2,), seed=3)
    got = src.take(5)
    assert sorted(p.id for p in got) == sorted(p.id for p in problems[5:])  # level 2 only, each once per pass


def test_several_tasks_take_turns_and_cover_every_level():
    src = PromptSource.from_tasks(("arith", "countdown"), levels=(1, 2), seed=5)
    got = src.take(8)
    assert [p.task for p in got] == ["arith", "countdown"] * 4
    assert [p.difficulty for p in got] == [1, 1, 2, 2, 1, 1, 2, 2]  # every (task, level) pair comes up
    assert got[3] == get_task("countdown").generate(5, 3, 2)
