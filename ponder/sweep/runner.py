"""The sweep driver: expand the spec into runs, run each as a Ray task, aggregate.

    cfg = SweepConfig(spec="examples/demo-seeds.yaml", out="runs/sweep-a")
    check(cfg)                                   # the whole spec, DIR, Ray: before anything is written
    connect(cfg, load(cfg))                      # a local Ray instance, or --address's cluster
    result = run(cfg, RunDir.open("sweep", cfg.out, cfg, resume=cfg.resume))

The driver never loads a model: a run is one task executing ponder.sweep.arm.run_arm, which
starts each stage as `python -m ponder ...` and reports through the run's status.json. Ray places
the tasks (each requests the per-run CPUs/GPUs) and `--max-parallel` caps how many are in flight.
A task that dies (killed worker, lost node) is recorded failed; the others go on. The driver holds
DIR/.lock (flock) for its whole life, so a second driver on the same DIR refuses, and a killed
driver's lock goes with it, so `--resume` can take over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ponder.errors import PonderError
from ponder.sweep.config import SweepConfig, SweepSpec, load_spec, parse_spec

SPEC_NAME = "spec.yaml"
LOCK_NAME = ".lock"
RAY_MISSING = "ponder sweep runs its arms on Ray, which is not installed: pip install 'ray>=2.40' (ponder's dev or ray extra)"


@dataclass
class SweepResult:
    runs: int  # all runs of the spec
    ran: int  # run in this session
    skipped: int  # already done (--resume)
    done: int
    failed: int
    wall_s: float
    summary: dict


def saved_spec(root: str | Path) -> SweepSpec:
    path = Path(root) / SPEC_NAME
    if not path.is_file():
        raise PonderError(f"{root} is not a sweep directory (no {SPEC_NAME})")
    return parse_spec(yaml.safe_load(path.read_text()), str(path))


def load(cfg: SweepConfig) -> SweepSpec:
    """The spec to run: SPEC, or with --resume the saved one (SPEC, if given, must run the same runs)."""
    if not cfg.resume:
        return load_spec(cfg.spec)  # type: ignore[arg-type]
    if cfg.spec and not (Path(cfg.out) / SPEC_NAME).exists():  # type: ignore[arg-type]
        return load_spec(cfg.spec)  # the first driver died before saving it
    saved = saved_spec(cfg.out)  # type: ignore[arg-type]
    if not cfg.spec:
        return saved
    spec = load_spec(cfg.spec)
    if spec.runs_part() != saved.runs_part():
        changed = [k for k in spec.runs_part() if spec.runs_part()[k] != saved.runs_part().get(k)]
        raise PonderError(f"--resume: {cfg.spec} changes {', '.join(changed) or 'the runs'} of the sweep in {cfg.out}; "
                          "resume with the same spec (or none), or use a new --out")
    return spec  # metrics, curve and resources may change between sessions


def check(cfg: SweepConfig) -> None:
    """Everything that can be checked before anything is written; never writes."""
    from ponder.runs import check_out

    if cfg.aggregate_only is not None:
        saved_spec(cfg.aggregate_only)
        check_unlocked(Path(cfg.aggregate_only))
        return
    load(cfg)
    if cfg.dry_run:
        return
    check_out(cfg.out, resume=cfg.resume)
    if cfg.resume:
        check_unlocked(Path(cfg.out))  # type: ignore[arg-type]
    try:
        import ray  # noqa: F401
    except ImportError:
        raise PonderError(RAY_MISSING) from None


def _busy(fd: int, root: Path) -> PonderError:
    holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown"
    return PonderError(f"another sweep driver ({holder}) is running on {root}; wait for it, or stop it and use --resume")


def check_unlocked(root: Path) -> None:
    """PonderError when a live driver holds DIR/.lock (asked without creating anything)."""
    try:
        fd = os.open(root / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(fd, root) from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def driver_lock(root: Path):
    """Hold DIR/.lock for the driver's life; PonderError when another driver holds it."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        err = _busy(fd, root)
        os.close(fd)
        raise err from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        yield
    finally:
        os.close(fd)


def connect(cfg: SweepConfig, spec: SweepSpec) -> None:
    """Start a local Ray instance (one CPU per core) or join --address; refuse requests it cannot place."""
    from ponder.raytools import connect as ray_connect

    want = cfg.resources(spec)
    ray_connect(cfg.address, {"CPU": want.cpus, "GPU": want.gpus},
                "lower --cpus-per-arm / --gpus-per-arm or join a bigger cluster with --address", what="each run")


def _task(spec: SweepSpec, unit, threads: int) -> dict:
    """The plain-data description of one unit that a Ray task receives."""
    return {"root": str(unit.path), "pipeline": spec.pipeline, "cwd": os.getcwd(), "threads": threads,
            "stages": [{"name": p.name, "command": p.command, "home": str(p.home), "run_dir": str(p.run_dir)}
                       for p in unit.plans]}


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def run(cfg: SweepConfig, run_dir, *, progress: bool = True) -> SweepResult:
    """Run the sweep into `run_dir` (a RunDir whose config.yaml is written), then aggregate it."""
    from ponder.runs import append_jsonl, atomic_write_text
    from ponder.sweep.aggregate import aggregate
    from ponder.sweep.arm import read_status, write_status
    from ponder.sweep.grid import units, write_plans

    spec = load(cfg)
    root = Path(run_dir.path).absolute()
    with driver_lock(root):
        run_dir.write_config(cfg)  # this session's options (two drivers racing for a new DIR: the lock's winner)
        atomic_write_text(root / SPEC_NAME, yaml.safe_dump(spec.to_dict(), sort_keys=False))
        todo, finished = [], set()
        all_units = units(spec, root)
        for u in all_units:
            status = read_status(u.path / "status.json")
            if status.get("state") == "done":
                finished.add(u.key)
                continue
            write_plans(list(u.plans))
            write_status(u.path / "status.json", {**status, "state": "pending", "error": None})
            todo.append(u)
        n_runs = sum(u.run is not None for u in all_units)
        skipped = sum(u.run is not None and u.key in finished for u in all_units)
        if skipped:
            _say(progress, f"sweep: {skipped} of {n_runs} runs already done; running the other {n_runs - skipped}")
        t0, session = time.perf_counter(), f"{time.time():.0f}-{os.getpid()}"
        done = failed = 0

        def beat() -> None:  # a killed driver's session still counts up to its last finished unit
            append_jsonl(root / "sessions.jsonl", {"session": session, "wall_s": time.perf_counter() - t0,
                                                   "units": len(todo), "done": done, "failed": failed})

        try:
            if todo:
                connect(cfg, spec)
                beat()
                for u, status in _schedule(cfg, spec, todo, finished):
                    done += status["state"] == "done"
                    failed += status["state"] != "done"
                    tail = f": {status.get('error')}" if status["state"] != "done" else ""
                    _say(progress, f"[{done + failed}/{len(todo)}] {u.key}: {status['state']} in "
                                   f"{status.get('wall_s') or 0.0:.1f}s{tail}")
                    beat()
        finally:
            beat()
        summary = aggregate(spec, root)
    return SweepResult(runs=n_runs, ran=n_runs - skipped, skipped=skipped, done=summary["runs"]["done"],
                       failed=summary["runs"]["failed"], wall_s=time.perf_counter() - t0, summary=summary)


def _fail(unit, error: str) -> dict:
    from ponder.sweep.arm import read_status, write_status

    status = {**read_status(unit.path / "status.json"), "state": "failed", "error": error, "finished": time.time()}
    write_status(unit.path / "status.json", status)
    return status


def _schedule(cfg: SweepConfig, spec: SweepSpec, todo: list, finished: set):
    """Yield (unit, final status) as Ray tasks finish: a unit starts once the units it depends on
    are done (or fails at once if one failed), with at most --max-parallel in flight."""
    import ray

    from ponder.sweep.arm import run_arm

    res = cfg.resources(spec)
    remote = ray.remote(run_arm).options(num_cpus=res.cpus, num_gpus=res.gpus, max_retries=0)
    threads = max(1, int(res.cpus))
    limit = cfg.max_parallel or len(todo)
    waiting, inflight, failed = list(todo), {}, {}
    while waiting or inflight:
        for u in list(waiting):
            bad = [d for d in u.deps if d in failed]
            if bad:  # a shared stage failed: this run cannot start
                waiting.remove(u)
                yield u, _fail(u, f"{bad[0]} failed: {failed[bad[0]]}")
            elif len(inflight) < limit and all(d in finished for d in u.deps):
                waiting.remove(u)
                inflight[remote.remote(_task(spec, u, threads))] = u
        if not inflight:
            if waiting:  # cannot happen: every dependency is finished, failed or still to run
                raise RuntimeError(f"sweep: {waiting[0].key} waits on {waiting[0].deps}, which will never run")
            continue
        ready, _ = ray.wait(list(inflight), num_returns=1)
        for ref in ready:
            u = inflight.pop(ref)
            try:
                status = ray.get(ref)
            except ray.exceptions.RayError as e:  # the worker or its node died: this unit failed, not the sweep
                status = _fail(u, f"the Ray task died: {str(e).strip().splitlines()[0]}")
            if status["state"] == "done":
                finished.add(u.key)
            else:
                failed[u.key] = status.get("error")
            yield u, status


def aggregate_only(root: str | Path) -> dict:
    from ponder.sweep.aggregate import aggregate

    root = Path(root)
    spec = saved_spec(root)
    with driver_lock(root):
        return aggregate(spec, root)
