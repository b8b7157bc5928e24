"""The demo's axes: each a module with `check(cfg)` and `run(cfg, run_dir, *, progress)`.

    ponder demo --axis calibration     # ponder/demo/stage.py (the default)
    ponder demo --axis abstraction     # ponder/demo/abstraction.py
    ponder demo --axis all             # every axis, each in <out>/<axis>/
"""

from __future__ import annotations

import importlib
import sys

AXES = {"calibration": "ponder.demo.stage", "abstraction": "ponder.demo.abstraction"}


def axis_module(name: str):
    return importlib.import_module(AXES[name])


def _each(cfg):
    import dataclasses
    from pathlib import Path

    root = Path(cfg.out or "runs/demo")
    return [(name, dataclasses.replace(cfg, axis=name, out=str(root / name))) for name in AXES]


def check(cfg) -> None:
    if cfg.axis != "all":
        return axis_module(cfg.axis).check(cfg)
    from ponder.runs import check_out

    check_out(cfg.out)
    for name, sub in _each(cfg):
        axis_module(name).check(sub)


def run(cfg, run_dir, *, progress: bool = True) -> dict:
    """The chosen axis into run_dir; `all`: every axis into its own sub-directory (summary.json
    maps each axis to its summary)."""
    if cfg.axis != "all":
        return axis_module(cfg.axis).run(cfg, run_dir, progress=progress)
    from ponder.runs import RunDir, write_json

    out = {}
    for name, sub in _each(cfg):
        print(f"\n=== axis {name}", file=sys.stderr, flush=True)
        out[name] = axis_module(name).run(sub, RunDir.open("demo", sub.out, sub), progress=progress)
    write_json(run_dir.path / "summary.json", out)
    return out
