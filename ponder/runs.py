"""The run directory: one per command, every file in it written atomically.

Layout (DESIGN.md "Run directory"):

    runs/<command>-<YYYYmmdd-HHMMSS>/
        config.yaml        resolved configuration
        *.parquet          rollouts, per-sample results, problems
        metrics.jsonl      one JSON object per step / stage
        checkpoints/       Hugging Face format
        report.html

Atomic means temp file in the same directory, fsync, then `os.replace`: a crash leaves either
the old file or the new one, never a truncated one. JSONL appends write a whole line with one
`write` call on an O_APPEND descriptor, and readers skip a torn final line.

One process at a time: `RunDir.open` takes an exclusive `flock` on RUN/.run.lock and holds it
until the process exits, so a second ponder process on the same directory fails fast with one
line naming the holder's pid. The kernel drops the lock when its holder dies (kill -9 included),
so a lock file left by a killed run is stale by construction and the next `--resume` takes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from ponder.errors import PonderError
from ponder.types import Problem

DEFAULT_ROOT = Path("runs")
# mkstemp/mkdtemp create owner-only files; a finished file gets the permissions open() would give
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def _atomic_target(path: str | os.PathLike):
    """Yield a temp path beside `path`; on success fsync it and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_UMASK)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temp directory beside `path`; on success fsync its files and rename it over `path`.

    A crash leaves either the old directory or the new one, never a half-written one (the one
    directory-level twin of the file writes below: model checkpoints use it).
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with _atomic_target(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):  # numpy / torch scalars
        return o.item()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> Path:
    text = "".join(json.dumps(r, sort_keys=True, default=_json_default) + "\n" for r in rows)
    return atomic_write_text(path, text)


def append_jsonl(path: str | os.PathLike, row: dict) -> None:
    """Append one line with a single write() so concurrent readers never see half a line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, sort_keys=True, default=_json_default) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            if os.write(fd, line) != len(line):  # a full disk can take part of the line
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            os.fsync(fd)
        except BaseException:
            # never leave a torn line that later appends would bury mid-file (unreadable)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Rows of a JSONL file; a torn final line (a crash mid-append) is skipped."""
    rows = []
    path = Path(path)
    if not path.exists():
        return rows
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise
    return rows


def write_parquet(path: str | os.PathLike, rows: Sequence[dict] | Any) -> Path:
    """Write a list of dicts (or a pyarrow Table / pandas DataFrame) to Parquet atomically.

    Dict-valued columns (e.g. `meta`) are stored as JSON strings so heterogeneous rows fit one
    schema; `read_parquet` leaves them as strings and `problems_from_rows` decodes them.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(rows, pa.Table):
        table = rows
    elif hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # pandas
        table = pa.Table.from_pandas(rows, preserve_index=False)
    else:
        rows = [{k: (json.dumps(v, sort_keys=True) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
        table = pa.Table.from_pylist(rows)
    with _atomic_target(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def read_parquet(path: str | os.PathLike) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def write_problems(path: str | os.PathLike, problems: Sequence[Problem]) -> Path:
    """Problems as Parquet (.parquet) or JSONL (anything else)."""
    rows = [p.to_dict() for p in problems]
    if str(path).endswith(".parquet"):
        return write_parquet(path, rows)
    return write_jsonl(path, rows)


def read_problems(path: str | os.PathLike) -> list[Problem]:
    path = Path(path)
    if not path.exists():
        raise PonderError(f"no such file: {path}")
    rows = read_parquet(path) if path.suffix == ".parquet" else read_jsonl(path)
    try:
        return [Problem.from_dict(r) for r in rows]
    except (KeyError, ValueError, TypeError) as e:
        raise PonderError(f"{path}: not a problems file ({e})") from None


_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: BaseException) -> str | None:
    """One line for an error caused by a full disk (or quota), else None.

    Libraries report it in their own types (safetensors: "No space left on device (os error 28)"),
    so the exception's chain is searched for the errno or its message. Atomic writes leave the old
    file or none, so the run directory stays readable and `--resume` continues it.
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        where = f" writing {e.filename}" if isinstance(e, OSError) and e.filename else ""
        if (isinstance(e, OSError) and e.errno in _FULL) or "No space left on device" in str(e) \
                or "os error 28" in str(e) or "Disk quota exceeded" in str(e):
            return (f"no space left on device{where}; free some space, then continue the run with "
                    "--resume --out RUN")
        e = e.__cause__ or e.__context__
    return None


# -- the run-directory convention and the one resume helper -------------------------------------
CONFIG_NAME = "config.yaml"
LOCK_NAME = ".run.lock"
_HELD: dict[Path, int] = {}  # run directory (resolved) -> the descriptor holding its lock, in this process


def _leftover(p: Path) -> bool:
    """Files a killed run can leave in an otherwise empty directory: its lock and temp files of an
    interrupted atomic write. They do not make the directory a run (nor non-empty)."""
    return p.name == LOCK_NAME or (p.name.startswith(".") and p.name.endswith((".tmp", ".old")))


def _empty(path: Path) -> bool:
    return not any(not _leftover(p) for p in path.iterdir())


def lock_run(path: str | os.PathLike) -> None:
    """Hold RUN/.run.lock (flock) until this process exits; PonderError if another process holds it.

    Re-entrant within a process (a test or the demo may reopen a run it holds). The descriptor is
    not inherited by exec'd children; the kernel releases the lock when the holder dies.
    """
    path = Path(path).resolve()
    if path in _HELD:
        return
    fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 100).decode(errors="replace").strip() or "?"
        os.close(fd)
        alive = holder.isdigit() and _pid_alive(int(holder))
        who = f"pid {holder}" if alive or not holder.isdigit() else f"a child of pid {holder}, which has exited"
        raise PonderError(f"{path} is in use by another ponder process ({who}); wait for it to finish, "
                          "or use another --out") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _HELD[path] = fd


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_holder(path: str | os.PathLike) -> str | None:
    """The pid (as written) of the process holding RUN's lock, or None when no process holds it.
    Asks without taking the lock (a shared, non-blocking probe)."""
    try:
        fd = os.open(Path(path) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        return os.read(fd, 100).decode(errors="replace").strip() or "?"
    finally:
        os.close(fd)


def release_run(path: str | os.PathLike) -> None:
    """Let go of a run's lock before the process exits (tests; long-lived callers)."""
    fd = _HELD.pop(Path(path).resolve(), None)
    if fd is not None:
        os.close(fd)


def check_out(out: str | os.PathLike | None, *, resume: bool = False, cfg: Any = None,
              keys: Sequence[str] = ()) -> Path | None:
    """Check, before anything is written, that `out` can hold this run; PonderError if not.

    A new run needs `out` absent or empty (None: a fresh runs/<command>-<time>/ is made later);
    `--resume` needs `out` to be an earlier run of the same command (it holds config.yaml) whose
    saved config agrees with `cfg` on every field in `keys` (`check_resume_matches`).
    """
    if resume:
        if not out:
            raise PonderError("--resume needs --out RUN (the run directory to continue)")
        path = Path(out)
        if not (path / CONFIG_NAME).exists():
            raise PonderError(f"--resume: {path} is not a run directory (no {CONFIG_NAME})")
        if keys:
            check_resume_matches(saved_config(path), cfg, keys, path)
        return path
    if out is None:
        return None
    path = Path(out)
    if path.exists() and (not path.is_dir() or not _empty(path)):
        raise PonderError(f"{out} already exists and is not empty; use --resume to continue it, or another --out")
    return path


def saved_config(out: str | os.PathLike) -> dict[str, Any]:
    """The config.yaml of an earlier run, as a plain dict."""
    path = Path(out) / CONFIG_NAME
    try:
        data = yaml.safe_load(path.read_text()) if path.exists() else None
    except yaml.YAMLError as e:
        raise PonderError(f"{path}: cannot parse the saved config: {str(e).splitlines()[0]}") from None
    return data if isinstance(data, dict) else {}


def check_resume_matches(saved: dict[str, Any], cfg: Any, keys: Sequence[str], out: str | os.PathLike) -> None:
    """PonderError if a field in `keys` differs from the saved run's: resuming would mix two runs."""
    for k in keys:
        new = getattr(cfg, k)
        new = json.loads(json.dumps(new, default=_json_default))  # tuples -> lists, as saved
        if k in saved and saved[k] != new:
            raise PonderError(f"--resume: {k} was {saved[k]!r} in {out}, now {new!r}; use a new --out")


class RunDir:
    """A run directory. `RunDir.create("eval", out)` makes runs/eval-<time>/ unless `out` is given.

    `RunDir.open(command, out, cfg, resume=...)` is the one way a stage starts: it creates the
    directory (or reopens it on resume) and writes the resolved config, after `check_out` and the
    config's own validation have passed.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def create(cls, command: str, out: str | os.PathLike | None = None, root: str | os.PathLike = DEFAULT_ROOT) -> "RunDir":
        if out is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = Path(root) / f"{command}-{stamp}"
            i = 1
            while out.exists():
                out = Path(root) / f"{command}-{stamp}-{i}"
                i += 1
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def open(cls, command: str, out: str | os.PathLike | None, config: Any = None, *, resume: bool = False) -> "RunDir":
        """Create (or with `resume`, reopen) the run directory, lock it for this process, and
        write the config. A second process on the same directory gets a PonderError, also when
        two fresh runs race for one empty --out (the lock's loser finds it no longer empty)."""
        path = check_out(out, resume=resume)
        if resume:
            lock_run(path)  # type: ignore[arg-type]
            return cls(path)  # type: ignore[arg-type]
        run = cls.create(command, path)
        lock_run(run.path)
        if not _empty(run.path):
            raise PonderError(f"{run.path} already exists and is not empty; use --resume to continue it, or another --out")
        if config is not None:
            run.write_config(config)
        return run

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __str__(self) -> str:
        return str(self.path)

    def write_config(self, config: Any, name: str = "config.yaml") -> Path:
        data = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
        data = json.loads(json.dumps(data, default=_json_default))  # tuples/paths -> plain YAML
        return atomic_write_text(self.path / name, yaml.safe_dump(data, sort_keys=False))

    def write_table(self, name: str, rows: Sequence[dict] | Any) -> Path:
        return write_parquet(self.path / name, rows)

    def write_json(self, name: str, obj: Any) -> Path:
        return write_json(self.path / name, obj)

    def log(self, row: dict, name: str = "metrics.jsonl") -> None:
        append_jsonl(self.path / name, row)

    def metrics(self, name: str = "metrics.jsonl") -> list[dict]:
        return read_jsonl(self.path / name)
