"""A sweep's aggregate: arms.parquet (one row per arm x seed), summary.json (per arm: mean and 95%
t-interval over seeds of each metric; pairs of arms whose intervals do not overlap) and report.html.

Metrics are dotted paths into a run's summary.json, else its metrics.json (eval's), e.g.
`trained.accuracy` (demo), `final.accuracy` (train), `summary.by_difficulty.5.think_rate` (eval);
in a pipeline the path starts with the stage (`eval.summary.accuracy`). A key that itself holds
dots matches whole (`claims.think_rate_easiest_at_most_0.25.holds`), and `*` matches every key at
its level (`claims.*.holds`: one column per claim). Booleans count as 1/0, so a claim's mean is the
fraction of seeds on which it held. Only finished runs contribute values.

The interval is Student's t: mean +- t(0.975, n-1) * sd / sqrt(n) with the sample sd; with one
seed it is null (no spread to estimate). "Intervals do not overlap" is a conservative screen for a
difference (two 95% intervals can overlap while the difference is significant), not a test.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from ponder.stats import interval, number
from ponder.sweep.arm import STATES

DOCUMENTS = ("summary.json", "metrics.json")  # where a metric path is looked up, in this order


def non_overlapping(stats: dict[str, dict]) -> list[list[str]]:
    """Pairs of arms (in arm order) whose intervals are both defined and do not overlap."""
    pairs = []
    for (a, sa), (b, sb) in itertools.combinations(stats.items(), 2):
        if None not in (sa["lo"], sb["lo"]) and (sa["hi"] < sb["lo"] or sb["hi"] < sa["lo"]):
            pairs.append([a, b])
    return pairs


# -- metric lookup ------------------------------------------------------------------------------
def find(obj: Any, parts: list[str], prefix: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """All (concrete path, value) that `parts` (a dotted path split on '.') reaches in `obj`.

    A key holding dots matches whole (the longest key first); '*' matches every key of a mapping.
    """
    if not parts:
        return [(".".join(prefix), obj)]
    if isinstance(obj, dict):
        if parts[0] == "*":
            return [hit for k in obj for hit in find(obj[k], parts[1:], prefix + (str(k),))]
        for j in range(len(parts), 0, -1):
            key = ".".join(parts[:j])
            if key in obj:
                hits = find(obj[key], parts[j:], prefix + (key,))
                if hits:
                    return hits
        return []
    if isinstance(obj, list) and parts[0].lstrip("-").isdigit() and -len(obj) <= int(parts[0]) < len(obj):
        return find(obj[int(parts[0])], parts[1:], prefix + (parts[0],))
    return []


def read_documents(run_dir: Path) -> list[dict]:
    docs = []
    for name in DOCUMENTS:
        try:
            data = json.loads((run_dir / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            docs.append(data)
    return docs


def metric_values(metric: str, stage_dirs: dict[str, Path], pipeline: bool) -> dict[str, float | None]:
    """Concrete metric path -> value for one run (wildcards expand to one entry per key found)."""
    parts = metric.split(".")
    stage, parts = (parts[0], parts[1:]) if pipeline else (next(iter(stage_dirs)), parts)
    for doc in read_documents(stage_dirs[stage]):
        hits = find(doc, parts)
        if hits:
            return {(f"{stage}.{p}" if pipeline else p): number(v) for p, v in hits}
    return {}


# -- the aggregate ------------------------------------------------------------------------------
def _cell(values: list[Any]) -> list[Any]:
    """A grid column for Parquet: one type per column (mixed or nested values become JSON text)."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} and kinds:
        return [None if v is None else (float(v) if float in kinds else v) for v in values]
    if len(kinds) <= 1 and kinds <= {str, bool, int, float}:
        return values
    return [json.dumps(v, sort_keys=True) for v in values]


def collect(spec, root: str | Path) -> tuple[list[dict], list[str]]:
    """arms.parquet's rows (one per arm x seed, in run order) and the metric columns found (a column
    per concrete path; a spec metric that no finished run resolves to a number gets none)."""
    from ponder.sweep.arm import read_status
    from ponder.sweep.grid import plan, runs

    root = Path(root)
    rows, columns = [], []
    for run in runs(spec):
        status = read_status(run.path(root) / "status.json")
        row: dict[str, Any] = {"arm": run.arm.name, **dict(run.arm.values), "seed": run.seed,
                               "status": status.get("state", "pending"), "wall_s": status.get("wall_s"),
                               "attempts": status.get("attempts", 0), "error": status.get("error")}
        values: dict[str, float | None] = {}
        if row["status"] == "done":
            dirs = {p.name: p.run_dir for p in plan(spec, run, root)}
            for m in spec.metrics:
                values.update(metric_values(m, dirs, spec.pipeline))
        for c, v in values.items():
            if v is not None and c not in columns:
                columns.append(c)
        rows.append((row, values))
    out = []
    for row, values in rows:
        out.append({**row, **{c: values.get(c) for c in columns}})
    for key, _ in spec.grid:
        for r, v in zip(out, _cell([r[key] for r in out])):
            r[key] = v
    return out, columns


def _matches(metric: str, column: str) -> bool:
    """Whether a concrete column came from `metric` (a path, possibly with '*')."""
    if "*" not in metric:
        return metric == column
    import fnmatch

    return fnmatch.fnmatchcase(column, metric)


def summarize(spec, rows: list[dict], columns: list[str], sessions: list[dict], shared: dict | None = None) -> dict:
    """summary.json: per arm, each metric's interval over seeds; pairs that differ; runs; timing.
    `shared`: the status of each seed's shared stages (pipelines with several arms)."""
    from ponder.sweep.grid import arms

    per_arm: dict[str, dict] = {}
    for arm in arms(spec):
        mine = [r for r in rows if r["arm"] == arm.name]
        per_arm[arm.name] = {
            "values": dict(arm.values), "labels": dict(arm.labels), "runs": len(mine),
            "done": sum(r["status"] == "done" for r in mine),
            "failed_seeds": [r["seed"] for r in mine if r["status"] == "failed"],
            "metrics": {c: interval([r[c] for r in mine if r["status"] == "done" and r[c] is not None])
                        for c in columns}}
    differ = {c: non_overlapping({a: s["metrics"][c] for a, s in per_arm.items()}) for c in columns}
    last: dict[str, float] = {}  # session -> its latest heartbeat
    for s in sessions:
        last[s.get("session", "")] = max(last.get(s.get("session", ""), 0.0), float(s.get("wall_s", 0.0)))
    wall = sum(last.values())
    shared = shared or {}
    runs_wall = sum(r["wall_s"] or 0.0 for r in rows) + sum(s.get("wall_s") or 0.0 for s in shared.values())
    unresolved = [m for m in spec.metrics if not any(_matches(m, c) for c in columns)]
    return {
        "metrics": columns, "unresolved": unresolved, "arms": per_arm, "differ": differ,
        "runs": {state: sum(r["status"] == state for r in rows) for state in STATES},
        "failed": [{"run": f"{r['arm']}/seed-{r['seed']}", "error": r["error"]} for r in rows if r["status"] == "failed"],
        "shared": shared,
        # speedup: the runs' own wall time (all attempts) over the driver's; what parallel running bought
        "timing": {"sweep_wall_s": wall, "runs_wall_s": runs_wall, "sessions": len(last),
                   "speedup": runs_wall / wall if wall > 0 else None},
    }


def aggregate(spec, root: str | Path) -> dict:
    """Write DIR/arms.parquet, DIR/summary.json and DIR/report.html from the runs' directories."""
    from ponder.runs import read_jsonl, write_json, write_parquet
    from ponder.sweep.report import write_report

    root = Path(root)
    from ponder.sweep.arm import read_status
    from ponder.sweep.grid import units

    rows, columns = collect(spec, root)
    shared = {}
    for u in units(spec, root):
        if u.run is None:
            st = read_status(u.path / "status.json")
            shared[u.key] = {"state": st.get("state", "pending"), "error": st.get("error"), "wall_s": st.get("wall_s")}
    summary = summarize(spec, rows, columns, read_jsonl(root / "sessions.jsonl"), shared)
    write_parquet(root / "arms.parquet", rows)
    write_json(root / "summary.json", summary)
    write_report(root / "report.html", spec, rows, summary, root)
    return summary
