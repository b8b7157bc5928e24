"""File datasets as tasks: JSONL, Parquet and save_to_disk directories; malformed rows refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ponder.errors import PonderError
from ponder.tasks import get_task
from ponder.tasks.files import load_file_task
from ponder.verify import verify_batch


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


ROWS = [
    {"question": "What is 1/2 + 1/4?", "solution": "3/4", "level": 2, "uid": "a"},
    {"question": "Solve x + 1 = 3.", "solution": 2, "level": 1, "uid": "b"},
    {"question": "Sqrt of 8?", "solution": "2\\sqrt{2}", "level": 2, "uid": "c"},
    {"question": "1+1?", "solution": "2", "level": 1, "uid": "d"},
    {"question": "2+2?", "solution": "4", "level": 1, "uid": "e"},
]


def test_jsonl_with_column_mapping_by_name(tmp_path):
    path = _jsonl(tmp_path / "qa.jsonl", ROWS)
    task = get_task(f"file:{path}?prompt=question&answer=solution&difficulty=level&id=uid")
    assert task.levels == (1, 2) and len(task) == 5
    level1 = task.sample(3, 1, seed=0)
    assert sorted(p.id for p in level1) == ["b", "d", "e"]  # all of level 1, no repeats
    assert {p.difficulty for p in level1} == {1}
    p = next(p for p in task.sample(2, 2, seed=0) if p.id == "a")
    assert p.prompt == "What is 1/2 + 1/4?" and p.answer == "3/4"
    assert task.verify("<answer>0.75</answer>", p) == 1.0  # math verifier by default
    assert task.verify("<answer>0.7</answer>", p) == 0.0
    assert task.verify(task.oracle(p), p) == 1.0
    assert task.verify("", p) == 0.0
    with pytest.raises(PonderError, match="difficulty levels"):
        task.sample(1, 3)


def test_sampling_is_deterministic_and_seeded(tmp_path):
    path = _jsonl(tmp_path / "qa.jsonl", [{"prompt": f"q{i}", "answer": str(i)} for i in range(20)])
    task = get_task(f"file:{path}")
    a = [p.id for p in task.sample(20, 1, seed=7)]
    assert a == [p.id for p in task.sample(20, 1, seed=7)]
    assert sorted(a) == sorted(f"qa/{i}" for i in range(1, 21))  # a permutation of the rows
    assert a != [p.id for p in task.sample(20, 1, seed=8)]
    assert len(task.sample(30, 1, seed=7)) == 30  # past the end: a fresh permutation
    # and in a fresh process
    code = f"from ponder.tasks import get_task; print([p.id for p in get_task('file:{path}').sample(20, 1, seed=7)])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == repr(a)


def test_parquet_and_python_api(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "qa.parquet"
    pq.write_table(pa.Table.from_pylist([{**r, "solution": str(r["solution"])} for r in ROWS]), path)
    task = load_file_task(path, prompt="question", answer="solution", difficulty="level", name="my-qa")
    assert get_task("my-qa") is task
    probs = task.sample(3, 1)
    assert all(p.task == "my-qa" for p in probs)
    # the verifier pool's workers resolve the custom name through the task's spec
    assert verify_batch(probs, [f"<answer>{p.answer}</answer>" for p in probs]) == [1.0, 1.0, 1.0]


def test_save_to_disk_directory(tmp_path):
    """The layout datasets' save_to_disk writes: Arrow stream files listed in state.json."""
    import pyarrow as pa

    d = tmp_path / "hf"
    (d / "train").mkdir(parents=True)
    table = pa.Table.from_pylist([{"problem": "1+2?", "answer": "3"}, {"problem": "2*3?", "answer": "6"}])
    with pa.OSFile(str(d / "train" / "data-00000-of-00001.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    (d / "train" / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    (d / "dataset_dict.json").write_text(json.dumps({"splits": ["train"]}))
    task = get_task(f"file:{d}?prompt=problem")
    assert sorted(p.answer for p in task.sample(2, 1)) == ["3", "6"]
    with pytest.raises(PonderError, match="no split 'test'"):
        get_task(f"file:{d}?prompt=problem&split=test")


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"prompt": "q", "answer": "1"', "line 3: bad JSON"),
        ({"prompt": "q"}, "line 3: missing column 'answer'"),
        ({"prompt": "", "answer": "1"}, "line 3: column 'prompt' must be a non-empty string"),
        ({"prompt": "q", "answer": "1", "difficulty": 7}, "line 3: column 'difficulty' must be an int in 1..5"),
        ({"prompt": "q", "answer": "1", "difficulty": "2"}, "line 3: column 'difficulty' must be an int in 1..5"),
        ('["q", "1"]', "line 3: expected an object"),
    ],
)
def test_malformed_row_refuses_the_whole_file(tmp_path, bad_line, message):
    good = {"prompt": "q", "answer": "1", "difficulty": 1}
    path = _jsonl(tmp_path / "bad.jsonl", [good, {**good, "prompt": "r"}, bad_line, good])
    with pytest.raises(PonderError, match=message.replace("(", r"\(").replace(".", r"\.")):
        get_task(f"file:{path}?difficulty=difficulty")


def test_bad_names_and_options(tmp_path):
    with pytest.raises(PonderError, match="no such dataset"):
        get_task(f"file:{tmp_path}/missing.jsonl")
    path = _jsonl(tmp_path / "qa.jsonl", [{"prompt": "q", "answer": "1", "id": 1}, {"prompt": "r", "answer": "2", "id": 1}])
    with pytest.raises(PonderError, match="unknown"):
        get_task(f"file:{path}?colour=red")
    with pytest.raises(PonderError, match="duplicate id '1'"):
        get_task(f"file:{path}?id=id")
    with pytest.raises(PonderError, match="unknown verifier"):
        get_task(f"file:{path}?verifier=fuzzy")


def test_exact_verifier(tmp_path):
    path = _jsonl(tmp_path / "qa.jsonl", [{"prompt": "Capital of France?", "answer": "Paris"}])
    task = get_task(f"file:{path}?verifier=exact")
    p = task.sample(1, 1)[0]
    assert task.verify("<answer>Paris</answer>", p) == 1.0
    assert task.verify("<answer>paris</answer>", p) == 0.0
