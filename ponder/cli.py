"""The `ponder` command line.

Each subcommand lives in `ponder/commands/<name>.py` and exposes `HELP` (one line),
`add_arguments(parser)` and `run(args) -> int`. Command modules import heavy libraries (torch,
transformers) inside `run`, so `ponder --help` and `ponder tasks list` start fast.

A stage's command (sft, eval, curate, train, demo) only parses: it resolves the stage's config
(defaults < --config FILE < flags; with --resume the run's saved config underneath), calls the
stage's `check`, opens the run directory (`ponder.runs.RunDir.open`) and calls the stage's `run`.
Every command takes --config FILE.

Bad input raises `PonderError`; it is printed as one line (`ponder: error: ...`) and the exit
status is 2. Argument errors look the same, and so does a full disk (`ponder.runs.disk_full`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ponder.errors import PonderError

# Explicit table: the order is the order in --help.
COMMANDS = {
    "demo": "ponder.commands.demo",
    "tasks": "ponder.commands.tasks",
    "verify": "ponder.commands.verify",
    "model": "ponder.commands.model", "sft": "ponder.commands.sft",
    "curate": "ponder.commands.curate", "export": "ponder.commands.export",
    "train": "ponder.commands.train",
    "eval": "ponder.commands.eval", "report": "ponder.commands.report", "compare": "ponder.commands.compare",
    "sweep": "ponder.commands.sweep",
}


class Parser(argparse.ArgumentParser):
    """argparse that reports errors on one line, without the usage block."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="ponder", description=__import__("ponder").__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ponder {__import__('ponder').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except PonderError as e:
        print(f"ponder: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ponder: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ponder tasks sample ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # a full disk is the environment, not a bug: one line, exit 2
        from ponder.runs import disk_full

        line = disk_full(e)
        if line is None:
            raise
        print(f"ponder: error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
