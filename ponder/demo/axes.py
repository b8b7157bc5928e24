"""The demo's axes: each axis name maps to the module holding its `check(cfg)` and
`run(cfg, run_dir, *, progress)`; `ponder.demo.check` / `run` dispatch through AXES.

    calibration   ponder/demo/stage.py      effort follows difficulty after RL (the default)
    strategy      ponder/demo/strategy.py   RL with plan rewards teaches planning where it pays
    abstraction   ponder/demo/abstraction.py  RL through sub-call trees: decompose where it pays
    tools         ponder/demo/tools.py      RL with a priced calculator: call it where it pays
    all           every axis above, each in a sub-directory of the run (<out>/<axis>/), with one
                  summary.json {axis: its summary} and a report.html of every axis's claims

The abstraction and tools axes run their stages through ponder/demo/pipeline.py (run_stages).
"""

from __future__ import annotations

import dataclasses
import importlib
import sys

from ponder.errors import PonderError

AXES = {"calibration": "ponder.demo.stage", "strategy": "ponder.demo.strategy",
        "abstraction": "ponder.demo.abstraction", "tools": "ponder.demo.tools"}  # name -> module (imported lazily)


def axis_module(name: str):
    """The module of axis `name`; PonderError for an axis this build does not have."""
    if name not in AXES:
        raise PonderError(f"demo axis {name!r} is not available here; choose from {', '.join(AXES)} or all")
    return importlib.import_module(AXES[name])


def _axes(cfg) -> list[str]:
    return list(AXES) if cfg.axis == "all" else [cfg.axis]


def check(cfg) -> None:
    """Every chosen axis's up-front checks (with `all`, each against its own sub-directory)."""
    from ponder.runs import check_out

    if cfg.axis != "all":
        if cfg.resume:  # the run directory is an earlier demo of the same config; the stages check the rest
            from ponder.demo.config import RESUME_KEYS

            check_out(cfg.out, resume=True, cfg=cfg, keys=RESUME_KEYS)
            cfg = dataclasses.replace(cfg, out=None, resume=False)
        return axis_module(cfg.axis).check(cfg)
    check_out(cfg.out)
    for name in _axes(cfg):
        sub = dataclasses.replace(cfg, axis=name, out=None if cfg.out is None else f"{cfg.out}/{name}")
        axis_module(name).check(sub)


def run(cfg, run_dir, *, progress: bool = True) -> dict:
    """Run the chosen axis into `run_dir`; with `all`, every axis into `run_dir/<axis>` and a summary
    {axis: its summary} (each axis keeps its own report.html)."""
    from ponder.runs import RunDir, atomic_write_text, write_json

    if cfg.axis != "all":
        return axis_module(cfg.axis).run(cfg, run_dir, progress=progress)
    out = {}
    for name in _axes(cfg):
        print(f"\n==== axis {name}", file=sys.stderr, flush=True)
        sub = dataclasses.replace(cfg, axis=name, out=str(run_dir.path / name))
        out[name] = axis_module(name).run(sub, RunDir.open("demo", sub.out, sub), progress=progress)
    write_json(run_dir.path / "summary.json", out)
    atomic_write_text(run_dir.path / "report.html", index(out))
    return out


def index(summaries: dict[str, dict]) -> str:
    """report.html of `--axis all`: every axis's claims in one table, linking each axis's own report."""
    from ponder.report.html import esc, page, table

    rows = [(f'<a href="{esc(axis)}/report.html">{esc(axis)}</a>', esc(name), c["value"], c["threshold"],
             "holds" if c["holds"] else "MISSED")
            for axis, summary in summaries.items() for name, c in summary.get("claims", {}).items()]
    body = "<h2>Claims, every axis</h2>" + table(["axis", "claim", "value", "threshold", "verdict"], rows, raw_cols=(0, 1))
    return page("ponder demo --axis all", ", ".join(summaries), body)
