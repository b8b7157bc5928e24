"""Prompt rendering and encoding: the one definition every backend, `ponder sft` and the RL
trainer share, so a prompt is the same token ids wherever it is sampled or trained on.

    text = render_prompt(tokenizer, problem, suffix="")   # chat template, or plain prompt + PLAIN_SEP
    ids = encode_prompt(tokenizer, text)                  # no special tokens added: the text holds them
"""

from __future__ import annotations

from ponder.types import Problem

# The plain prompt format of models without a chat template: the problem, then this separator,
# then the completion. `ponder sft` trains on exactly this, so every backend must render it.
PLAIN_SEP = "\n"
# The instruction given to chat models (system turn) so they answer in ponder's format.
CHAT_SYSTEM = (
    "Solve the problem. You may first write a plan in <plan>...</plan> and reason step by step in "
    "<think>...</think>; then give only the final answer in <answer>...</answer>."
)


def render_prompt(tokenizer, problem: Problem | str, suffix: str = "") -> str:
    """The prompt string for `problem` under `tokenizer`: chat template if it has one, else plain.

    `suffix` is appended after the assistant turn starts (e.g. "<think>" to force a mode).
    """
    prompt = problem.prompt if isinstance(problem, Problem) else str(problem)
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": prompt}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + suffix
    return prompt + PLAIN_SEP + suffix


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Token ids of a rendered prompt. No special tokens are added: a chat template already wrote
    the ones the model needs, and the plain format has none (a BOS here would shift every id)."""
    return tokenizer.encode(prompt, add_special_tokens=False)
