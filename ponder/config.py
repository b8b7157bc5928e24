"""Configs are dataclasses with documented defaults, settable from a YAML/TOML file and the CLI.

    @dataclass
    class EvalConfig:
        n: int = field(default=4, metadata={"help": "samples per problem"})

    add_config_args(parser, EvalConfig)      # --n, --config FILE, with help and defaults
    cfg = resolve_config(EvalConfig, args)   # defaults < config file < command line

A field's `metadata["help"]` is its documentation; `--help` prints it with the default.
`metadata["aliases"]` holds older or shorter flag spellings (`("--difficulties",)`, `("-n",)`); a
config file may use them too. `metadata["positional"]` makes the field a positional argument
(optional on the command line, so a config file can give it instead).
List-like fields take comma-separated values, and integer lists take ranges ("1-5", "1,3-5").
Validation that needs more than the type lives in the dataclass's `__post_init__`, which raises
`PonderError` (never `assert`, which `-O` strips).

Resume: for a config with `resume` and `out` fields, `--resume --out RUN` starts from RUN's saved
config.yaml, so `ponder sft --resume --out RUN` needs no other flag; anything given now (a file,
flags) overrides it, and each stage's `check` refuses overrides that would mix two runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from ponder.errors import PonderError

_MISSING = object()


def parse_int_list(text: str) -> tuple[int, ...]:
    """'1-5' -> (1, 2, 3, 4, 5); '1,3-4' -> (1, 3, 4)."""
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ValueError(f"expected integers or ranges like 1-5, got {text!r}") from None
    return tuple(out)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _converter(tp: Any):
    """A function str|value -> value of type `tp`, raising ValueError with a readable message."""
    base, optional = _unwrap_optional(tp)
    origin = typing.get_origin(base)

    def convert(v: Any) -> Any:
        if optional and (v is None or (isinstance(v, str) and v.lower() in ("none", "null", ""))):
            return None
        if origin in (tuple, list):
            (elem,) = typing.get_args(base)[:1] or (str,)
            if isinstance(v, str):
                items: Any = parse_int_list(v) if elem is int else [s.strip() for s in v.split(",") if s.strip()]
            elif isinstance(v, (list, tuple)):
                items = v
            else:
                items = [v]
            items = [_converter(elem)(x) for x in items]
            return tuple(items) if origin is tuple else list(items)
        if base is bool:
            if isinstance(v, bool):
                return v
            s = str(v).lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"expected true or false, got {v!r}")
        if base is int:
            if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
                raise ValueError(f"expected an integer, got {v!r}")
            try:
                return int(v)
            except (TypeError, ValueError):
                raise ValueError(f"expected an integer, got {v!r}") from None
        if base is float:
            try:
                return float(v)
            except (TypeError, ValueError):
                raise ValueError(f"expected a number, got {v!r}") from None
        if base in (str, Any):
            return str(v) if base is str else v
        if isinstance(base, type) and issubclass(base, Path):
            return Path(v)
        if origin is dict or base is dict:
            if isinstance(v, str):
                return json.loads(v)
            return dict(v)
        if origin is typing.Literal:
            choices = typing.get_args(base)
            if v not in choices:
                raise ValueError(f"expected one of {', '.join(map(str, choices))}, got {v!r}")
            return v
        return v

    return convert


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_args(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    """Add --config FILE and one flag per field of dataclass `cls` (defaults shown in --help)."""
    if not any(a.dest == "config" for a in parser._actions):
        parser.add_argument("--config", metavar="FILE", help="YAML or TOML file of option values; flags override it")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or f.metadata.get("cli") is False:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        help_text = f.metadata.get("help", "")
        if "default" not in help_text and shown != "":  # a help text that explains its default keeps its own words
            help_text = f"{help_text} (default: {shown})".strip()
        tp = hints[f.name]
        base, _ = _unwrap_optional(tp)
        flags = [_flag(f.name)] + list(f.metadata.get("aliases", ()))
        kwargs: dict[str, Any] = dict(dest=f.name, default=argparse.SUPPRESS, help=help_text)
        if f.metadata.get("positional"):
            flags, kwargs = [f.name], dict(nargs="?", default=argparse.SUPPRESS, help=help_text)
        if base is bool:
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if typing.get_origin(base) is typing.Literal:
            kwargs["choices"] = typing.get_args(base)
        conv = _converter(tp)

        def typed(s: str, conv=conv) -> Any:
            try:
                return conv(s)
            except ValueError as e:
                raise argparse.ArgumentTypeError(str(e)) from None

        parser.add_argument(*flags, type=typed, metavar=f.metadata.get("metavar", f.name.upper()), **kwargs)


def _aliases(cls: type) -> dict[str, str]:
    """Alias spelling (as a config-file key) -> field name, from each field's metadata["aliases"]."""
    out = {}
    for f in dataclasses.fields(cls):
        for a in f.metadata.get("aliases", ()):
            out[a.lstrip("-").replace("-", "_")] = f.name
    return out


def canonical_keys(cls: type, values: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """`values` with alias keys (difficulties, task, n...) renamed to their fields; PonderError when
    one source gives both spellings."""
    aliases = _aliases(cls)
    out: dict[str, Any] = {}
    for k, v in values.items():
        name = aliases.get(k, k) if k not in {f.name for f in dataclasses.fields(cls)} else k
        if name in out:
            raise PonderError(f"{source}: {name} is given twice (as {name} and as {k}); keep one")
        out[name] = v
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise PonderError(f"config file not found: {path}")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        why = "too deeply nested" if isinstance(e, RecursionError) else (str(e).splitlines() or [type(e).__name__])[0]
        raise PonderError(f"{path}: cannot parse config: {why}") from None
    if not isinstance(data, dict):
        raise PonderError(f"{path}: a config file must hold a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def build_config(cls: type, values: dict[str, Any], source: str = "config") -> Any:
    """Construct dataclass `cls` from loosely typed values, with one-line errors."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise PonderError(f"{source}: unknown option {unknown[0]!r}; valid options: {', '.join(sorted(names))}")
    typed = {}
    for k, v in values.items():
        try:
            typed[k] = _converter(hints[k])(v)
        except ValueError as e:
            raise PonderError(f"{source}: bad value for {k}: {e}") from None
    try:
        return cls(**typed)
    except (TypeError, ValueError) as e:
        raise PonderError(f"{source}: {e}") from None


def resolve_config(cls: type, args: argparse.Namespace, **overrides: Any) -> Any:
    """defaults < (with --resume: the run's saved config.yaml) < --config FILE < flags < `overrides`."""
    values: dict[str, Any] = {}
    source = "command line"
    if getattr(args, "config", None):
        values.update(canonical_keys(cls, load_config_file(args.config), str(args.config)))
        source = str(args.config)
    names = {f.name for f in dataclasses.fields(cls)}
    values.update({k: v for k, v in vars(args).items() if k in names})
    values.update(overrides)
    saved = _saved_run_config(cls, values)
    if saved:
        source = f"{values['out']}/config.yaml + {source}"
    return build_config(cls, {**saved, **values}, source)


def _saved_run_config(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """The saved config of the run that `--resume --out RUN` continues ({} otherwise)."""
    names = {f.name for f in dataclasses.fields(cls)}
    if not {"resume", "out"} <= names or not values.get("out"):
        return {}
    try:
        resume = _converter(bool)(values.get("resume", False))
    except ValueError:
        return {}  # build_config reports the bad value
    if not resume:
        return {}
    from ponder.runs import CONFIG_NAME, saved_config

    path = Path(values["out"]) / CONFIG_NAME
    if not path.exists():
        return {}  # the stage's check says "not a run directory"
    return canonical_keys(cls, saved_config(values["out"]), str(path))
