"""Tools: sandboxed tools as environment turns of a multi-turn rollout (`ponder.rollout`).

    from ponder.tools import Tools, ToolPolicy, tool, select

    @tool("upper", "upper-cases its input")          # register your own
    def upper(text: str) -> str:
        return text.upper()

    env = Tools.from_spec("calc,python")             # what --tools calc,python selects
    rollouts = run_multiturn(policy, prompts, env, sampling, Limits(max_turns=3, max_tokens=128))
    rollouts[0].tool_calls                           # ToolCall(name, input, output, error, truncated, latency_s)

- registry.py: Tool, TOOLS, the `@tool` decorator, `select`.
- calc.py / python.py: the built-ins (exact rational arithmetic; a program in ponder's sandbox).
- env.py: `Tools`, the Environment (call formats, bounds, errors as results), ToolCall.
- render.py: prompts with tools (chat templates' `tools=`), `ToolPolicy`, the eval row's tool fields.
docs/tools.md has the formats, the bounds and how training uses them.
"""

from ponder.tools.env import FORMATS, ToolCall, Tools, format_for
from ponder.tools.registry import TOOLS, Tool, ToolError, parse_names, select, tool
from ponder.tools.render import ToolPolicy, render_tool_prompt, tool_fields

__all__ = ["FORMATS", "TOOLS", "Tool", "ToolCall", "ToolError", "ToolPolicy", "Tools", "format_for", "parse_names",
           "render_tool_prompt", "select", "tool", "tool_fields"]
