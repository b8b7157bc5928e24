"""`ponder compare RUN_A RUN_B`: a side-by-side report of two eval runs, with deltas."""

from __future__ import annotations

from ponder.errors import PonderError

HELP = "compare two eval runs side by side (deltas and overlaid curves) in one HTML report"


def add_arguments(p) -> None:
    p.add_argument("run_a", help="the first eval run directory (e.g. the baseline)")
    p.add_argument("run_b", help="the second eval run directory (deltas are B - A)")
    p.add_argument("--names", help="labels for the two runs, comma-separated (default: directory names)")
    p.add_argument("--out", help="run directory for compare.html (default runs/compare-<time>)")


def run(args) -> int:
    from ponder.report.compare import write_compare
    from ponder.report.io import load_run
    from ponder.runs import RunDir

    names = None
    if args.names:
        names = tuple(s.strip() for s in args.names.split(","))
        if len(names) != 2 or not all(names):
            raise PonderError(f"--names needs two comma-separated labels, got {args.names!r}")
    load_run(args.run_a), load_run(args.run_b)  # both must be eval runs before anything is written
    run_dir = RunDir.create("compare", args.out)
    run_dir.write_config({"run_a": args.run_a, "run_b": args.run_b, "names": list(names) if names else None})
    path = write_compare(args.run_a, args.run_b, run_dir / "report.html", names)
    print(f"wrote {path}")
    return 0
