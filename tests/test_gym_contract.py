"""The task contract over EVERY reasoning-gym dataset (-m gym; the gym extra).

Item 0 (seed 0) of every level each dataset claims: it round-trips through JSON, its oracle
completion scores 1.0 (datasets without a reference answer, and items whose reference answer
rg's own scorer rejects, must raise NoOracle instead: the check is skipped explicitly, not
silently), an empty answer or an answer inside <think> scores 0, and a nonsense answer scores
below 1.0 (except for the scorers flagged gameable). Refused datasets must fail at `get_task`
with their reason.

Bounded in time: the datasets are split over two worker processes (the CI machine's two cores),
and the generated problems are cached under $PONDER_TEST_CACHE (as the warm-start model is),
keyed by reasoning-gym's version and the adapter's source, so a re-run only scores. The wider
check (3 items per level, two hash seeds, rg's own scorer) is bench/gym_coverage.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import pytest

pytest.importorskip("reasoning_gym")
pytestmark = pytest.mark.gym

from ponder.tasks.gym import dataset_names  # noqa: E402
from ponder.tasks.rg_tables import GAMEABLE, NO_ORACLE, REFUSED  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["gym.py", "rg_core.py", "rg_gen.py", "rg_tables.py"]  # what decides the generated problems
SHARDS = 2
NAMES = dataset_names()


def _cache_dir(tmp_path_factory) -> Path:
    cache = os.environ.get("PONDER_TEST_CACHE", str(Path(tempfile.gettempdir()) / "ponder-test-cache"))
    if cache.lower() in ("off", "0", "no", ""):
        return tmp_path_factory.mktemp("gym-problems")
    h = hashlib.sha256(version("reasoning-gym").encode())
    for f in SOURCES:
        h.update((REPO / "ponder" / "tasks" / f).read_bytes())
    path = Path(cache) / f"gym-problems-{h.hexdigest()[:16]}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> dict:
    cache = _cache_dir(tmp_path_factory)
    out = tmp_path_factory.mktemp("gym-contract")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    procs = [subprocess.Popen([sys.executable, __file__, str(k), str(SHARDS), str(cache), str(out / f"{k}.json")], env=env)
             for k in range(SHARDS)]
    for p in procs:
        assert p.wait(timeout=1800) == 0
    results = {}
    for k in range(SHARDS):
        results.update(json.loads((out / f"{k}.json").read_text()))
    return results


@pytest.mark.parametrize("name", NAMES)
def test_contract_every_dataset(checked, name):
    r = checked[name]
    if name in REFUSED:
        assert r["refused"] == f"rg/{name} is not supported: {REFUSED[name]}"
        return
    assert "refused" not in r, r["refused"]
    assert sorted(r["levels"], key=int) == [str(d) for d in r["claimed"]]
    for d, row in r["levels"].items():
        assert "error" not in row, f"level {d}: {row.get('error')}"
        assert row["roundtrip"], f"level {d}: the problem does not round-trip through JSON"
        if name in NO_ORACLE or row["gold_ok"] is False:  # no oracle: skipped, and it must say so
            assert row["oracle"] == "NoOracle", f"level {d}"
        else:
            assert row["gold"] == 1.0, f"level {d}: the oracle completion scores {row['gold']}"
        assert row["empty"] == 0.0 and row["in_think"] == 0.0, f"level {d}"
        if name not in GAMEABLE:
            assert row["zzz"] < 1.0, f"level {d}: a nonsense answer scores {row['zzz']}"


def test_few_items_lack_an_oracle_where_rg_has_reference_answers(checked):
    """Items whose gold rg rejects are a known rg defect (jugs' solver gives up), not a habit."""
    rows = [row for n, r in checked.items() if n not in NO_ORACLE for row in r.get("levels", {}).values()]
    assert sum(row.get("gold_ok") is False for row in rows) <= 3, [n for n, r in checked.items()
                                                                    if any(x.get("gold_ok") is False for x in r.get("levels", {}).values())]


def _check(name: str, cache: Path) -> dict:
    """One dataset's contract results (runs in a worker process)."""
    from ponder.errors import PonderError
    from ponder.tasks import NoOracle, get_task
    from ponder.types import Problem

    try:
        task = get_task(f"rg/{name}")
    except PonderError as e:
        return {"refused": str(e)}
    partial = get_task(f"rg/{name}?partial=1")
    stored = cache / f"{name}.json"
    problems = json.loads(stored.read_text()) if stored.exists() else {}
    res: dict = {"claimed": list(task.levels), "levels": {}}
    for d in task.levels:
        row = res["levels"][str(d)] = {}
        try:
            p = Problem.from_dict(problems[str(d)]) if str(d) in problems else task.generate(0, 0, d)
        except PonderError as e:
            row["error"] = str(e)
            continue
        problems[str(d)] = p.to_dict()
        row["roundtrip"] = Problem.from_json(p.to_json()) == p
        row["gold_ok"] = p.meta["rg"]["gold_ok"]
        try:
            row["gold"] = task.verify(task.oracle(p), p)
        except NoOracle:
            row["oracle"] = "NoOracle"
        row["empty"] = task.verify("<answer></answer>", p)
        row["in_think"] = task.verify(f"<think><answer>{p.answer}</answer></think>", p)
        row["zzz"] = partial.verify("<answer>zzz</answer>", p)
    tmp = stored.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(problems))
    tmp.replace(stored)
    return res


if __name__ == "__main__":  # a worker: python tests/test_gym_contract.py SHARD SHARDS CACHE OUT
    shard, shards, cache, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    from ponder.tasks.rg_score import scorer

    scorer().start()
    # interleaved, so the slow generators (knight_swap, zebra_puzzles, ...) spread over both
    out.write_text(json.dumps({name: _check(name, cache) for name in NAMES[shard::shards]}))
