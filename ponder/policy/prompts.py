"""Prompt rendering and encoding: the one definition every backend, `ponder sft` and the RL
trainer share, so a prompt is the same token ids wherever it is sampled or trained on.

    text = render_prompt(tokenizer, problem, suffix="")   # chat template, or plain prompt + PLAIN_SEP
    text = render_prompt(tokenizer, problem, instruction="boxed")   # another system instruction
    ids = encode_prompt(tokenizer, text)                  # no special tokens added: the text holds them
"""

from __future__ import annotations

import re

from ponder.types import Problem

# The plain prompt format of models without a chat template: the problem, then this separator,
# then the completion. `ponder sft` trains on exactly this, so every backend must render it.
PLAIN_SEP = "\n"
# The instruction given to chat models (system turn) so they answer in ponder's format.
CHAT_SYSTEM = (
    "Solve the problem. You may first write a plan in <plan>...</plan> and reason step by step in "
    "<think>...</think>; then give only the final answer in <answer>...</answer>."
)

# Named instructions a run may give instead (`--instruction NAME`, or any other text verbatim). The
# last two suit models never trained on ponder's tags, read with lenient extraction (docs/real.md).
INSTRUCTIONS = {
    "ponder": CHAT_SYSTEM,
    "boxed": "Solve the problem. Reason step by step, then put the final answer within \\boxed{}.",
    "answer-is": "Solve the problem. End your reply with: The answer is X.",
}


def instruction_text(instruction: str | None) -> str | None:
    """The system text a run's instruction names: an INSTRUCTIONS entry, or the text itself; None
    (ponder's own) when empty."""
    if not instruction:
        return None
    return INSTRUCTIONS.get(instruction, instruction)


_PER_TASK = re.compile(r"\s*([\w:*.-]+)\s*=(.*)", re.DOTALL)


def instruction_for(instruction: str | None, task: str) -> str | None:
    """A run's instruction for one task family. `instruction` is one instruction for every task,
    or per-family entries `TASK=INSTRUCTION;TASK=INSTRUCTION` with `*=...` for the rest (a task
    with no entry and no `*` keeps ponder's own); each INSTRUCTION is a name or text."""
    if not instruction:
        return None
    parts = [_PER_TASK.fullmatch(part) for part in instruction.split(";")]
    if not all(parts):
        return instruction
    table = {m.group(1): m.group(2).strip() for m in parts if m}
    return table.get(task, table.get("*")) or None


def render_prompt(tokenizer, problem: Problem | str, suffix: str = "", instruction: str | None = None) -> str:
    """The prompt string for `problem` under `tokenizer`: chat template if it has one, else plain.

    `suffix` is appended after the assistant turn starts (e.g. "<think>" to force a mode).
    `instruction` replaces CHAT_SYSTEM (a name in INSTRUCTIONS or the text); a model without a chat
    template gets it as a first line, and none at all by default (the tiny model is trained without).
    """
    prompt = problem.prompt if isinstance(problem, Problem) else str(problem)
    system = instruction_text(instruction)
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": system or CHAT_SYSTEM}, {"role": "user", "content": prompt}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + suffix
    return (f"{system}\n" if system else "") + prompt + PLAIN_SEP + suffix


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Token ids of a rendered prompt. No special tokens are added: a chat template already wrote
    the ones the model needs, and the plain format has none (a BOS here would shift every id)."""
    return tokenizer.encode(prompt, add_special_tokens=False)
