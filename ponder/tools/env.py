"""`Tools`: the tool environment of a multi-turn rollout (`ponder.rollout.Environment`), the same
mechanism as sub-calls: the policy writes a call and stops at its close marker, the runtime runs
it and injects the result, the policy continues.

    12345*6789=?                                      prompt
    <tool name="calc">12345*6789</tool>               policy turn 1 (stops at </tool>)
    <output>83810205</output>                         injected (masked out of the loss)
    <answer>83810205</answer>                         policy turn 2

Formats (FORMATS, picked by `fmt`): `tag` above, for the tiny default (plain text, so any
tokenizer writes it), and `hermes`, the `<tool_call>{"name": .., "arguments": {..}}</tool_call>`
calls that Qwen2.5 / Hermes-style chat templates teach, with the result injected as
`<tool_response>..</tool_response>`. Departure from those templates: the result is pasted inline
into the assistant's text rather than in a new `tool` turn (the rollout stays one completion whose
injected tokens are masked, which is what training needs; a served chat model sees the same text).

Nothing a call does escapes as an exception. Each becomes an error result the model reads,
`<output>error: ...</output>`, and an `error` kind on its `ToolCall` record: `malformed` (no
parseable name), `unknown` (not among the run's tools), `too_long` (input over `max_input_chars`),
`timeout` (past `timeout_s`; the call's thread is abandoned, the `python` tool's process killed by
the sandbox), `exception` (the tool raised; its one-line message is shown). A result longer than
`max_output_chars` (a flood) is cut there and flagged `truncated`. Per rollout, calls are bounded by
`Limits.max_turns` (at most max_turns - 1 calls) and all tokens, injected ones included, by
`Limits.max_tokens`. Every call's latency is measured and kept on the rollout
(`Rollout.tool_calls`).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass

from ponder.errors import PonderError
from ponder.rollout.multiturn import Injection
from ponder.tools.registry import Tool, ToolError, select
from ponder.types import Sampling


@dataclass(frozen=True)
class ToolCall:
    """The record of one call: what was asked, what came back, how long it took."""

    name: str  # '' when the call was malformed
    input: str
    output: str  # the text injected between the result markers
    error: str | None = None  # malformed | unknown | too_long | timeout | exception; None when it ran
    truncated: bool = False  # the result was cut at max_output_chars
    latency_s: float = 0.0


# -- formats: how a call is written and a result injected ---------------------------------------
_TAG_CALL = re.compile(r'<tool\s+name\s*=\s*"([^"]*)"\s*>(.*?)</tool>\s*\Z', re.S)


@dataclass(frozen=True)
class TagFormat:
    """`<tool name="calc">...</tool>` then `<output>...</output>`: the plain format of the tiny default."""

    stop: str = "</tool>"
    open: str = "<tool"

    def split(self, call: str) -> tuple[str, str] | None:
        m = _TAG_CALL.search(call)
        return None if m is None else (m.group(1).strip(), m.group(2))

    def result(self, outputs: list[str]) -> str:
        return "".join(f"<output>{o}</output>" for o in outputs)

    def write_call(self, name: str, text: str) -> str:
        return f'<tool name="{name}">{text}</tool>'


@dataclass(frozen=True)
class HermesFormat:
    """`<tool_call>{"name": ..., "arguments": {"input": ...}}</tool_call>` then `<tool_response>`:
    the format Qwen2.5 / Hermes chat templates render for `tools=`."""

    stop: str = "</tool_call>"
    open: str = "<tool_call>"

    def split(self, call: str) -> tuple[str, str] | None:
        body = call[len(self.open):].rsplit(self.stop, 1)[0].strip() if call.startswith(self.open) else ""
        try:
            obj = json.loads(body)
        except json.JSONDecodeError:
            return None
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            return None
        args = obj.get("arguments", {})
        if isinstance(args, str):
            return obj["name"], args
        if isinstance(args, dict) and len(args) == 1:
            return obj["name"], str(next(iter(args.values())))
        return None

    def result(self, outputs: list[str]) -> str:
        return "".join(f"\n<tool_response>\n{o}\n</tool_response>\n" for o in outputs)

    def write_call(self, name: str, text: str) -> str:
        return f'<tool_call>\n{json.dumps({"name": name, "arguments": {"input": text}})}\n</tool_call>'


FORMATS = {"tag": TagFormat(), "hermes": HermesFormat()}


def format_for(tokenizer) -> str:
    """'hermes' for a chat template that renders `<tool_call>`, else 'tag' (the tiny default)."""
    template = getattr(tokenizer, "chat_template", None) or ""
    return "hermes" if "<tool_call>" in str(template) else "tag"


# -- the environment ----------------------------------------------------------------------------
def _run_with_timeout(tool: Tool, text: str, timeout_s: float) -> tuple[str | None, str | None, float]:
    """(output, error kind, latency): the tool in a daemon thread, waited for at most timeout_s."""
    box: dict = {}

    def target():
        try:
            box["out"] = tool.run(text)
        except BaseException as e:  # noqa: BLE001  (a tool's failure of any kind is the model's result)
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            box["err"] = first if isinstance(e, ToolError) and first else f"{type(e).__name__}: {first}".rstrip(": ")

    t0 = time.perf_counter()
    th = threading.Thread(target=target, daemon=True, name=f"tool-{tool.name}")
    th.start()
    th.join(timeout_s)
    latency = time.perf_counter() - t0
    if th.is_alive():
        return f"{tool.name} timed out after {timeout_s:g}s", "timeout", latency
    if "err" in box:
        return box["err"], "exception", latency
    return box.get("out", ""), None, latency


@dataclass(frozen=True)
class Tools:
    """The tool environment (an `Environment`): the run's tools, its format and its bounds."""

    tools: tuple[Tool, ...]
    fmt: str = "tag"  # FORMATS key
    timeout_s: float = 5.0  # wall clock per call
    max_input_chars: int = 2000  # a longer call is refused (too_long)
    max_output_chars: int = 256  # a longer result is cut here (a flood), marked with '...[truncated]'

    def __post_init__(self):
        if self.fmt not in FORMATS:
            raise PonderError(f"unknown tool format {self.fmt!r}; choose from {', '.join(FORMATS)}")
        if not self.tools:
            raise PonderError("a tool environment needs at least one tool")
        if self.timeout_s <= 0 or self.max_input_chars < 1 or self.max_output_chars < 1:
            raise PonderError("tool timeout_s, max_input_chars and max_output_chars must be > 0")

    @classmethod
    def from_spec(cls, spec, **kw) -> "Tools":
        """The environment of a `--tools calc,python` value (PonderError for an unknown tool)."""
        return cls(select(spec), **kw)

    @property
    def format(self):
        return FORMATS[self.fmt]

    @property
    def stop(self) -> tuple[str, ...]:
        return (self.format.stop,)

    def parse(self, text: str) -> list[str] | None:
        """The call ending the turn (from its last open marker, or the whole turn when there is none,
        which `execute` reports as malformed); None when the turn did not end with a call."""
        f = self.format
        if not text.rstrip().endswith(f.stop):
            return None
        start = text.rfind(f.open)
        return [text[start:].rstrip() if start >= 0 else text.rstrip()]

    def call(self, raw: str) -> ToolCall:
        """Run one raw call; every failure becomes a bounded error record, never an exception."""
        by_name = {t.name: t for t in self.tools}
        split = self.format.split(raw)
        if split is None:
            return self._error("", raw, "malformed", f"malformed tool call (name one of {', '.join(by_name)}, "
                               f"e.g. {self.format.write_call(self.tools[0].name, '...')})")
        name, text = split
        if name not in by_name:
            return self._error(name, text, "unknown", f"unknown tool {name[:40]!r} (available: {', '.join(by_name)})")
        if len(text) > self.max_input_chars:
            return self._error(name, text, "too_long", f"input longer than {self.max_input_chars} characters")
        out, err, latency = _run_with_timeout(by_name[name], text, self.timeout_s)
        return self._record(name, text, out if err is None else f"error: {out}", err, latency)

    def _error(self, name: str, text: str, kind: str, message: str) -> ToolCall:
        return self._record(name, text, f"error: {message}", kind, 0.0)

    def _record(self, name: str, text: str, out: str, err: str | None, latency: float) -> ToolCall:
        out = out.replace(self.format.stop, "").replace("</output>", "").replace("</tool_response>", "")
        cut = len(out) > self.max_output_chars
        if cut:
            out = out[: self.max_output_chars] + "...[truncated]"
        return ToolCall(name, text[: self.max_input_chars], out, err, cut, latency)

    def execute(self, policy, calls: list[list[str]], sampling: Sampling, limits) -> list[Injection]:
        """Every paused rollout's calls, run concurrently (one thread each); one Injection per rollout."""
        flat = [c for cs in calls for c in cs]
        records: list[ToolCall | None] = [None] * len(flat)

        def work(i: int) -> None:
            records[i] = self.call(flat[i])

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(flat))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()  # bounded: each call waits at most timeout_s for its tool
        out, i = [], 0
        for cs in calls:
            recs = tuple(records[i : i + len(cs)])
            i += len(cs)
            out.append(Injection(self.format.result([r.output for r in recs]), calls=recs))
        return out
