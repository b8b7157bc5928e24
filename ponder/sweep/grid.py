"""Grid expansion: arms (the cartesian product of the grid), runs (arm x seed) and each run's stage
plans (resolved config, where it runs, where it logs).

Layout of a run, `DIR/arms/<arm>/seed-<s>/`:

    status.json                      pending | running | done | failed, error line, wall time
    config-in.yaml stdout.log stderr.log run/          single command
    <stage>/config-in.yaml ... <stage>/run/            pipeline: one folder per stage

In a pipeline with several arms, the stages that are the same in every arm of a seed (no grid key
sets them, and they reference only such stages: typically the warm start) run once per seed, in
`DIR/shared/seed-<s>/<stage>/`, before that seed's arms; every arm's `{stage}` points there. So
arms compare from literally the same warm start, and it is trained once, not once per arm.

Arm names are `key=label` joined by commas, in grid order (`temperature=0.6,max_new_tokens=short`);
`base` when the grid is empty. A label is the value itself made file-name safe, or the label given
by a mapping in the grid.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ponder.errors import PonderError

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
REFERENCE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_-]*)\}")  # `{stage}` in a pipeline stage's strings
MAX_LABEL = 48


@dataclass(frozen=True)
class Arm:
    name: str
    values: tuple[tuple[str, Any], ...] = ()  # (grid key, value) in grid order
    labels: tuple[tuple[str, str], ...] = ()  # (grid key, the label in the name)


@dataclass(frozen=True)
class Run:
    """One arm x seed: the unit of work (one Ray task)."""

    arm: Arm
    seed: int

    @property
    def key(self) -> str:
        return f"{self.arm.name}/seed-{self.seed}"

    def path(self, root: str | Path) -> Path:
        return Path(root) / "arms" / self.arm.name / f"seed-{self.seed}"


@dataclass(frozen=True)
class StagePlan:
    name: str
    command: str
    config: dict  # what config-in.yaml holds: the stage config + grid values + seed, references resolved
    home: Path  # config-in.yaml, stdout.log, stderr.log
    run_dir: Path  # the stage's --out

    @property
    def config_path(self) -> Path:
        return self.home / "config-in.yaml"


def label(value: Any) -> str:
    """A grid value as a file-name-safe label: 0.1 -> '0.1', [0.1, 0.9] -> '0.1_0.9', 'a/b' -> 'a-b'."""
    if value is None or isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, (list, tuple)):
        text = "_".join(label(v) for v in value)
    elif isinstance(value, dict):
        text = "_".join(f"{k}-{label(v)}" for k, v in value.items())
    else:
        text = repr(value) if isinstance(value, float) else str(value)
    return _UNSAFE.sub("-", text).strip("-")[:MAX_LABEL] or "x"


def _short_keys(keys: list[str]) -> dict[str, str]:
    """A pipeline's `train.lr` shows as `lr` unless two stages' options share that name."""
    tails = [k.split(".", 1)[-1] for k in keys]
    return {k: (t if tails.count(t) == 1 else k) for k, t in zip(keys, tails)}


def arms(spec, bad=PonderError) -> list[Arm]:
    keys = [k for k, _ in spec.grid]
    if not keys:
        return [Arm("base")]
    short = _short_keys(keys)
    out, seen = [], {}
    for combo in itertools.product(*[entries for _, entries in spec.grid]):
        labels = tuple((k, lab if lab is not None else label(v)) for k, (lab, v) in zip(keys, combo))
        name = ",".join(f"{_UNSAFE.sub('-', short[k])}={_UNSAFE.sub('-', lab)}" for k, lab in labels)
        values = tuple((k, v) for k, (_, v) in zip(keys, combo))
        if name in seen:
            raise bad(f"grid: two arms get the name {name!r} ({dict(seen[name])} and {dict(values)}); "
                      "label the values with a mapping (label: value)")
        seen[name] = values
        out.append(Arm(name, values, labels))
    return out


def runs(spec, bad=PonderError) -> list[Run]:
    """Every arm x seed, arm-major (an arm's seeds are neighbours in every listing)."""
    return [Run(arm, seed) for arm in arms(spec, bad) for seed in spec.seeds]


@dataclass(frozen=True)
class Unit:
    """What one Ray task runs: a run's own stages, or the stages a seed's arms share."""

    key: str  # "shared/seed-0" or "<arm>/seed-0"
    path: Path  # holds status.json
    plans: tuple[StagePlan, ...]
    deps: tuple[str, ...] = ()  # unit keys that must be done first
    run: Run | None = None  # None for a shared unit


def _references(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(REFERENCE.findall(value))
    if isinstance(value, (list, tuple)):
        return set().union(*map(_references, value)) if value else set()
    if isinstance(value, dict):
        return _references(list(value.values()))
    return set()


def shared_stages(spec) -> tuple[str, ...]:
    """The stages every arm of a seed runs identically (none unless a pipeline has several arms)."""
    n_arms = 1
    for _, entries in spec.grid:
        n_arms *= len(entries)
    if not spec.pipeline or n_arms < 2:
        return ()
    touched = {key.split(".", 1)[0] for key, _ in spec.grid}
    shared: list[str] = []
    for stage in spec.stages:
        if stage.name not in touched and _references(stage.config) <= set(shared):
            shared.append(stage.name)
    return tuple(shared)


def _resolve(value: Any, dirs: dict[str, str], where: str, bad) -> Any:
    """Replace `{stage}` in strings by that earlier stage's run directory."""
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(1) not in dirs:
                earlier = ", ".join(dirs) or "none"
                raise bad(f"{where}: {{{m.group(1)}}} names no earlier stage (earlier stages: {earlier})")
            return dirs[m.group(1)]

        return REFERENCE.sub(sub, value)
    if isinstance(value, list):
        return [_resolve(v, dirs, where, bad) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, dirs, where, bad) for k, v in value.items()}
    return value


def plan(spec, run: Run, root: str | Path, bad=PonderError) -> list[StagePlan]:
    """The stages of one run, with their resolved configs and absolute paths under `root`."""
    root = Path(root).absolute()
    base = run.path(root)
    shared = shared_stages(spec)
    dirs: dict[str, str] = {}
    plans = []
    for stage in spec.stages:
        config = copy.deepcopy(stage.config)
        for key, value in run.arm.values:
            target, option = key.split(".", 1) if spec.pipeline else (stage.name, key)
            if target == stage.name:
                config[option.replace("-", "_")] = copy.deepcopy(value)
        if spec.pipeline:  # a single command's strings are passed through untouched
            config = _resolve(config, dirs, f"stage {stage.name}", bad)
        config["seed"] = run.seed
        if stage.name in shared:
            home = root / "shared" / f"seed-{run.seed}" / stage.name
        else:
            home = base / stage.name if spec.pipeline else base
        plans.append(StagePlan(stage.name, stage.command, config, home, home / "run"))
        dirs[stage.name] = str(home / "run")
    return plans


def units(spec, root: str | Path) -> list[Unit]:
    """Every Ray task of the sweep: each seed's shared stages (if any), then every arm x seed."""
    root = Path(root).absolute()
    shared = shared_stages(spec)
    out: list[Unit] = []
    all_runs = runs(spec)
    if shared:
        for seed in spec.seeds:
            first = next(r for r in all_runs if r.seed == seed)
            plans = tuple(p for p in plan(spec, first, root) if p.name in shared)
            out.append(Unit(f"shared/seed-{seed}", root / "shared" / f"seed-{seed}", plans))
    for r in all_runs:
        plans = tuple(p for p in plan(spec, r, root) if p.name not in shared)
        out.append(Unit(r.key, r.path(root), plans, (f"shared/seed-{r.seed}",) if shared else (), r))
    return out


def check_plans(spec, bad=PonderError) -> None:
    """Arm names are unique and every reference resolves, for every arm (before anything runs)."""
    for arm in arms(spec, bad):
        plan(spec, Run(arm, spec.seeds[0]), Path("/sweep"), bad)


def write_plans(plans: list[StagePlan]) -> None:
    from ponder.runs import atomic_write_text

    for p in plans:
        atomic_write_text(p.config_path, yaml.safe_dump(p.config, sort_keys=False))


def describe(spec, resources) -> str:
    """The dry run's listing: what would run, one line per arm."""
    all_arms = arms(spec)
    kind = "pipeline " + " -> ".join(f"{s.name}" + (f" ({s.command})" if s.command != s.name else "")
                                     for s in spec.stages) if spec.pipeline else spec.stages[0].command
    lines = [f"sweep of {kind}: {len(all_arms)} arm(s) x {len(spec.seeds)} seed(s) = "
             f"{len(all_arms) * len(spec.seeds)} runs, each requesting {resources.cpus:g} CPU, {resources.gpus:g} GPU"]
    width = max(len(a.name) for a in all_arms)
    for a in all_arms:
        shown = ", ".join(f"{k}: {v!r}" for k, v in a.values) or "(the base config)"
        lines.append(f"  {a.name:<{width}}  {shown}")
    shared = shared_stages(spec)
    if shared:
        lines.append(f"shared by the arms of each seed (run once per seed): {', '.join(shared)}")
    lines.append(f"seeds: {', '.join(map(str, spec.seeds))}")
    lines.append(f"metrics: {', '.join(spec.metrics) or '(none)'}")
    return "\n".join(lines)
