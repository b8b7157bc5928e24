"""The tool registry: a tool is a name, a description and a function from the call's text to the
result's text.

    from ponder.tools import tool

    @tool("upper", "upper-cases its input")
    def upper(text: str) -> str:
        return text.upper()

    TOOLS.get("upper").run("abc")     # 'ABC'
    select("calc,upper")              # (Tool calc, Tool upper): what `--tools calc,upper` picks

A tool's function may raise or hang: `ponder.tools.env.Tools` turns both into an error result the
model sees (bounded, never a crash of the rollout). Built-ins: `calc` (exact arithmetic) and
`python` (a program in ponder's sandbox), registered lazily so looking up `calc` never imports the
sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ponder.errors import PonderError
from ponder.registry import Registry


class ToolError(Exception):
    """A tool's own failure, shown to the model as its message alone (other exceptions keep their type name)."""


@dataclass(frozen=True)
class Tool:
    """One callable tool: `fn(call_text) -> result_text`."""

    name: str
    description: str  # shown to chat models (`tools=` of apply_chat_template) and in `--help`
    fn: Callable[[str], str]

    def run(self, text: str) -> str:
        return str(self.fn(text))

    def schema(self) -> dict:
        """The OpenAI / Hugging Face function schema chat templates render: one string argument."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object", "properties": {"input": {"type": "string", "description": "the call's text"}},
                           "required": ["input"]}}}


TOOLS: Registry[Tool] = Registry("tool")
TOOLS.register_lazy("calc", "ponder.tools.calc:CALC")
TOOLS.register_lazy("python", "ponder.tools.python:PYTHON")


def tool(name: str, description: str) -> Callable[[Callable[[str], str]], Callable[[str], str]]:
    """Decorator: register `fn(call_text) -> result_text` as the tool `name` (duplicates refused)."""

    def deco(fn: Callable[[str], str]) -> Callable[[str], str]:
        TOOLS.register(name, Tool(name, description, fn))
        return fn

    return deco


def parse_names(spec: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """'calc,python' (or a sequence) -> ('calc', 'python'); blanks dropped, order and first kept."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def select(spec: str | tuple[str, ...] | list[str]) -> tuple[Tool, ...]:
    """The registered tools a `--tools` value names; PonderError (one line) for an unknown one."""
    names = parse_names(spec)
    if not names:
        raise PonderError("--tools is empty; name at least one tool, e.g. --tools calc")
    return tuple(TOOLS.get(n) for n in names)
