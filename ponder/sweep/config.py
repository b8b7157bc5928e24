"""The sweep's two configs: the spec file (what to run) and the command's options (how to run it).

A spec is a YAML file:

    command: eval                      # one of SWEEPABLE ...
    base: {model: runs/sft-a/model, per_level: 20}
    grid:                              # option -> values; arms = the cartesian product
      temperature: [0.6, 1.0]
      max_new_tokens: {short: 64, long: 256}     # a mapping labels the values (arm names use labels)
    seeds: [0, 1, 2]                   # or "0-4"; each arm x seed is one run, the seed goes into `seed`
    metrics: [summary.accuracy, summary.by_difficulty.5.mean_tokens]
    resources: {cpus: 1, gpus: 0}      # per run (Ray task); --cpus-per-arm / --gpus-per-arm override
    curve: {metric: accuracy, x: rl_flops}       # optional: the report's plot from metrics.jsonl

or, instead of `command` + `base`, a pipeline whose stages run in order inside one run:

    pipeline:
      - {name: sft, command: sft, config: {steps: 300}}
      - {name: train, command: train, config: {model: "{sft}/model", steps: 60}}
    grid: {train.lr: [1e-4, 3e-4]}     # grid keys name the stage
    metrics: [train.final.accuracy]    # metric paths start with the stage

`{stage}` inside a later stage's string values is that stage's run directory in the same run.
Stage configs pass to `python -m ponder COMMAND --config FILE` untouched: the sweep knows no
stage's options, so it never goes stale when they change; a bad option fails that run (recorded,
with the stage's one-line error) and not the spec check.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ponder.config import parse_int_list
from ponder.errors import PonderError

SWEEPABLE = ("train", "eval", "curate", "sft", "demo")
CONFIGS = {"train": ("ponder.rl", "TrainConfig"), "eval": ("ponder.eval", "EvalConfig"),  # command -> its config
           "curate": ("ponder.curate", "CurateConfig"), "sft": ("ponder.sft", "SFTConfig"),  # class (module, name),
           "demo": ("ponder.demo", "DemoConfig")}  # imported only to read option names: no torch, no model
SPEC_KEYS = ("command", "base", "pipeline", "grid", "seeds", "metrics", "resources", "curve")
RESERVED = ("out", "resume", "seed")  # set per run by the sweep, never by the spec
STAGE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*$")
ROW_COLUMNS = ("arm", "seed", "status", "wall_s", "attempts", "error")  # arms.parquet's fixed columns
CURVE_X = ("auto", "rl_flops", "step")


@dataclass(frozen=True)
class Stage:
    """One step of a run: `python -m ponder COMMAND --config <config> --out <its run dir>`."""

    name: str
    command: str
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Resources:
    cpus: float = 1.0  # per run; also the stage's OMP_NUM_THREADS (at least 1)
    gpus: float = 0.0


@dataclass(frozen=True)
class Curve:
    """The report's plot: `metric` from each run's metrics.jsonl against `x` (auto: rl_flops, else step)."""

    metric: str = "accuracy"
    x: str = "auto"
    stage: str | None = None  # pipeline: the stage whose metrics.jsonl to read (default: the last that has one)
    smooth: int = 1  # moving-average window over logged rows (training metrics are noisy per step)


@dataclass(frozen=True)
class SweepSpec:
    """A validated spec. A single `command` is a pipeline of one stage named after the command,
    with `pipeline=False` (its grid keys and metric paths carry no stage prefix)."""

    stages: tuple[Stage, ...]
    pipeline: bool
    grid: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]  # (key, ((label, value), ...)) in file order
    seeds: tuple[int, ...] = (0,)
    metrics: tuple[str, ...] = ()
    resources: Resources = Resources()
    curve: Curve = Curve()

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def to_dict(self) -> dict:
        """The spec as a plain mapping that parses back to an equal spec (saved as DIR/spec.yaml)."""
        grid = {k: ({label: v for label, v in entries} if entries[0][0] is not None else [v for _, v in entries])
                for k, entries in self.grid}
        data: dict[str, Any] = {}
        if self.pipeline:
            data["pipeline"] = [{"name": s.name, "command": s.command, "config": s.config} for s in self.stages]
        else:
            data["command"], data["base"] = self.stages[0].command, self.stages[0].config
        data.update(grid=grid, seeds=list(self.seeds), metrics=list(self.metrics),
                    resources=dataclasses.asdict(self.resources), curve=dataclasses.asdict(self.curve))
        return data

    def runs_part(self) -> dict:
        """What decides the runs themselves (a resumed sweep must not change it)."""
        data = self.to_dict()
        return {k: data[k] for k in ("command", "base", "pipeline", "grid", "seeds") if k in data}


def load_spec(path: str | Path) -> SweepSpec:
    path = Path(path)
    if not path.is_file():
        raise PonderError(f"sweep spec not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise PonderError(f"{path}: cannot parse the sweep spec: {str(e).splitlines()[0]}") from None
    return parse_spec(data, str(path))


def parse_spec(data: Any, source: str = "spec") -> SweepSpec:
    """Validate a whole spec (one line per problem, PonderError) and return it."""
    def bad(msg: str) -> PonderError:
        return PonderError(f"{source}: {msg}")

    if not isinstance(data, dict):
        raise bad("a sweep spec is a mapping with `command` (or `pipeline`), `grid`, `seeds`, `metrics`")
    unknown = [k for k in data if k not in SPEC_KEYS]
    if unknown:
        raise bad(f"unknown key {unknown[0]!r}; valid keys: {', '.join(SPEC_KEYS)}")
    if ("command" in data) == ("pipeline" in data):
        raise bad("give exactly one of `command` (one stage per run) and `pipeline` (a list of stages)")
    if "pipeline" in data:
        if "base" in data:
            raise bad("`base` is for a single `command`; in a pipeline each stage has its own `config`")
        stages = _parse_pipeline(data["pipeline"], bad)
    else:
        stages = (Stage(data["command"], _check_command(data["command"], "command", bad),
                        _parse_config(data.get("base") or {}, "base", bad)),)
    pipeline = "pipeline" in data
    grid = _parse_grid(data.get("grid") or {}, stages, pipeline, bad)
    _check_options(stages, grid, pipeline, bad)
    metrics = _parse_metrics(data.get("metrics") or [], stages, pipeline, grid, bad)
    spec = SweepSpec(stages=stages, pipeline=pipeline, grid=grid, seeds=_parse_seeds(data.get("seeds", [0]), bad),
                     metrics=metrics, resources=_parse_resources(data.get("resources") or {}, bad),
                     curve=_parse_curve(data.get("curve") or {}, stages, pipeline, bad))
    from ponder.sweep.grid import check_plans

    check_plans(spec, bad)  # arm names unique; every `{stage}` reference resolves
    return spec


def _check_command(command: Any, where: str, bad) -> str:
    if command not in SWEEPABLE:
        raise bad(f"{where}: unknown command {command!r}; a sweep runs one of {', '.join(SWEEPABLE)}")
    return command


def _parse_config(config: Any, where: str, bad) -> dict:
    if not isinstance(config, dict):
        raise bad(f"{where}: expected a mapping of option names to values, got {config!r}")
    config = {str(k).replace("-", "_"): v for k, v in config.items()}
    for k in RESERVED:
        if k in config:
            raise bad(f"{where}: {k!r} is set per run by the sweep ({_reserved_why(k)}); remove it")
    return config


def _check_options(stages, grid, pipeline: bool, bad) -> None:
    """Every option a stage's config or a grid key sets is an option of that stage's command, so a
    misspelt option fails here, in one line, not in every arm once the sweep has started."""
    import difflib
    import importlib

    from ponder.config import canonical_keys

    for stage in stages:
        module, name = CONFIGS[stage.command]
        cls = getattr(importlib.import_module(module), name)
        fields = {f.name for f in dataclasses.fields(cls)}
        gridded = [key.partition(".")[2] if pipeline else key for key, _ in grid
                   if not pipeline or key.partition(".")[0] == stage.name]
        where = f"stage {stage.name}" if pipeline else "base"
        for option in [*stage.config, *(g.replace("-", "_") for g in gridded)]:
            if canonical_keys(cls, {option: None}, where).keys() <= fields:
                continue
            close = difflib.get_close_matches(option, sorted(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise bad(f"{where}: `ponder {stage.command}` has no option {option!r}{hint}")


def _reserved_why(key: str) -> str:
    return {"seed": "from `seeds`", "out": "DIR/arms/ARM/seed-S/run", "resume": "by --resume"}[key]


def _parse_pipeline(items: Any, bad) -> tuple[Stage, ...]:
    if not isinstance(items, list) or not items:
        raise bad("pipeline: expected a non-empty list of stages ({name, command, config})")
    stages: list[Stage] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "command" not in item:
            raise bad(f"pipeline[{i}]: expected a mapping with `command` (and optional `name`, `config`)")
        extra = sorted(set(item) - {"name", "command", "config"})
        if extra:
            raise bad(f"pipeline[{i}]: unknown key {extra[0]!r}; a stage has name, command, config")
        command = _check_command(item["command"], f"pipeline[{i}]", bad)
        name = str(item.get("name", command))
        if not STAGE_NAME.match(name):
            raise bad(f"pipeline[{i}]: stage name {name!r} must be letters, digits, _ or - (not starting with a digit)")
        if any(s.name == name for s in stages):
            raise bad(f"pipeline: two stages are named {name!r}; give each a distinct `name`")
        stages.append(Stage(name, command, _parse_config(item.get("config") or {}, f"pipeline[{i}] ({name}) config", bad)))
    return tuple(stages)


def _parse_grid(grid: Any, stages, pipeline: bool, bad) -> tuple:
    if not isinstance(grid, dict):
        raise bad(f"grid: expected a mapping of option -> list of values, got {grid!r}")
    out, seen = [], set()
    names = [s.name for s in stages]
    for key, values in grid.items():
        key = str(key)
        stage, _, option = key.partition(".") if pipeline else (names[0], "", key)
        if pipeline and (not option or stage not in names):
            raise bad(f"grid: key {key!r} must be STAGE.OPTION with STAGE one of {', '.join(names)}")
        if not pipeline and "." in key:
            raise bad(f"grid: key {key!r}: options have no dots (STAGE.OPTION is for a pipeline's stages)")
        if key in ROW_COLUMNS:
            raise bad(f"grid: {key!r} clashes with a column of arms.parquet ({', '.join(ROW_COLUMNS)})")
        if (stage, option.replace("-", "_")) in seen:
            raise bad(f"grid: {key!r} sets an option another grid key already sets")
        seen.add((stage, option.replace("-", "_")))
        if option.replace("-", "_") in RESERVED:
            raise bad(f"grid: {option!r} is set per run by the sweep ({_reserved_why(option.replace('-', '_'))})")
        if isinstance(values, dict) and values:
            entries = tuple((str(label), v) for label, v in values.items())
        elif isinstance(values, list) and values:
            entries = tuple((None, v) for v in values)
        else:
            raise bad(f"grid: {key} needs a non-empty list of values (or a mapping label: value), got {values!r}")
        out.append((key, entries))
    return tuple(out)


def _parse_seeds(seeds: Any, bad) -> tuple[int, ...]:
    try:
        if isinstance(seeds, str):
            seeds = parse_int_list(seeds)
        elif isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = [seeds]
        if not isinstance(seeds, (list, tuple)) or not seeds:
            raise ValueError
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise ValueError
    except ValueError:
        raise bad(f"seeds: expected a non-empty list of integers >= 0 (or a range like 0-4), got {seeds!r}") from None
    if len(set(seeds)) != len(seeds):
        raise bad(f"seeds: {sorted(seeds)} repeats a seed; each arm x seed is one run")
    return tuple(seeds)


def _parse_metrics(metrics: Any, stages, pipeline: bool, grid, bad) -> tuple[str, ...]:
    if not isinstance(metrics, list) or not all(isinstance(m, str) and m.strip(".") for m in metrics):
        raise bad(f"metrics: expected a list of dotted paths like summary.accuracy, got {metrics!r}")
    names = [s.name for s in stages]
    for m in metrics:
        if pipeline and m.split(".")[0] not in names:
            raise bad(f"metrics: {m!r} must start with the stage it reads ({', '.join(names)}), e.g. {names[-1]}.{m}")
        taken = set(ROW_COLUMNS) | {k for k, _ in grid}
        if m in taken:
            raise bad(f"metrics: {m!r} clashes with a column of arms.parquet ({', '.join(sorted(taken))})")
    if len(set(metrics)) != len(metrics):
        raise bad("metrics: a metric is listed twice")
    return tuple(metrics)


def _number(value: Any, where: str, bad, low: float, strict: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        raise bad(f"{where} must be a number {'>' if strict else '>='} {low:g}, got {value!r}")
    return float(value)


def _parse_resources(res: Any, bad) -> Resources:
    if not isinstance(res, dict) or set(res) - {"cpus", "gpus"}:
        raise bad(f"resources: expected a mapping with cpus and/or gpus (per run), got {res!r}")
    return Resources(cpus=_number(res.get("cpus", 1), "resources.cpus", bad, 0, True),
                     gpus=_number(res.get("gpus", 0), "resources.gpus", bad, 0, False))


def _parse_curve(curve: Any, stages, pipeline: bool, bad) -> Curve:
    names = {f.name for f in dataclasses.fields(Curve)}
    if not isinstance(curve, dict) or set(curve) - names:
        raise bad(f"curve: expected a mapping with {', '.join(sorted(names))}, got {curve!r}")
    c = Curve(**curve)
    if not isinstance(c.metric, str) or not c.metric:
        raise bad(f"curve.metric: expected a metrics.jsonl key like accuracy, got {c.metric!r}")
    if c.x not in CURVE_X:
        raise bad(f"curve.x: expected one of {', '.join(CURVE_X)}, got {c.x!r}")
    if c.stage is not None and (not pipeline or c.stage not in [s.name for s in stages]):
        raise bad(f"curve.stage: {c.stage!r} names no stage of the pipeline")
    if isinstance(c.smooth, bool) or not isinstance(c.smooth, int) or c.smooth < 1:
        raise bad(f"curve.smooth: expected an integer >= 1, got {c.smooth!r}")
    return c


@dataclass
class SweepConfig:
    """`ponder sweep` options (the spec file says what to run; these say where and how)."""

    spec: str | None = field(default=None, metadata={"help": "the sweep spec (YAML); with --resume, default DIR/spec.yaml",
                                                     "cli": False})
    out: str | None = field(default=None, metadata={"help": "sweep directory (default runs/sweep-<time>)"})
    address: str | None = field(default=None, metadata={
        "help": "Ray cluster to join ('auto' or HOST:PORT; default: start a local Ray instance, one CPU per core)"})
    max_parallel: int | None = field(default=None, metadata={
        "help": "at most this many runs at once (default: as many as the per-run resources allow)", "metavar": "K"})
    resume: bool = field(default=False, metadata={"help": "continue the sweep in --out: skip finished runs, rerun the "
                                                          "others (from their own checkpoints where the stage resumes)"})
    cpus_per_arm: float | None = field(default=None, metadata={
        "help": "CPUs each run requests from Ray, and its thread count (default: the spec's resources.cpus, else 1)",
        "metavar": "C"})
    gpus_per_arm: float | None = field(default=None, metadata={
        "help": "GPUs each run requests from Ray (default: the spec's resources.gpus, else 0)", "metavar": "G"})
    dry_run: bool = field(default=False, metadata={"help": "validate the spec and print its runs; run nothing, write nothing"})
    aggregate_only: str | None = field(default=None, metadata={
        "help": "re-aggregate the sweep in DIR (arms.parquet, summary.json, report.html) without running", "metavar": "DIR"})

    def __post_init__(self):
        if self.aggregate_only is not None:
            for name in ("spec", "out", "resume", "dry_run"):
                if getattr(self, name):
                    raise PonderError(f"--aggregate-only DIR re-reads a finished sweep; it takes no {_option(name)}")
            return
        if self.dry_run and self.resume:
            raise PonderError("--dry-run and --resume contradict each other (a dry run runs nothing)")
        if not self.spec and not self.resume:
            raise PonderError("a sweep needs its SPEC file (e.g. ponder sweep examples/demo-seeds.yaml --out runs/sweep-a)")
        if self.resume and not self.out:
            raise PonderError("--resume needs --out DIR (the sweep directory to continue)")
        if self.max_parallel is not None and self.max_parallel < 1:
            raise PonderError(f"--max-parallel must be >= 1, got {self.max_parallel}")
        if self.cpus_per_arm is not None and not self.cpus_per_arm > 0:
            raise PonderError(f"--cpus-per-arm must be > 0, got {self.cpus_per_arm}")
        if self.gpus_per_arm is not None and not self.gpus_per_arm >= 0:
            raise PonderError(f"--gpus-per-arm must be >= 0, got {self.gpus_per_arm}")

    def resources(self, spec: SweepSpec) -> Resources:
        """Flags override the spec's per-run request."""
        return Resources(cpus=self.cpus_per_arm if self.cpus_per_arm is not None else spec.resources.cpus,
                         gpus=self.gpus_per_arm if self.gpus_per_arm is not None else spec.resources.gpus)


def _option(name: str) -> str:
    return "SPEC" if name == "spec" else "--" + name.replace("_", "-")
