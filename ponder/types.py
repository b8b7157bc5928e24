"""The typed records that cross module boundaries (DESIGN.md "Contracts").

`Problem` flows out of tasks, `Completion` out of policy backends, `Sampling` into them.
They are defined once, here, so the seams cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ANSWER_STOP = "</answer>"  # = ponder.format.ANSWER_CLOSE (types sits below format in the import order)


@dataclass(frozen=True)
class Problem:
    """One verifiable question.

    `answer` is the gold answer as a string; `difficulty` runs 1 (easiest) to 5;
    `meta` is JSON-serialisable task data (sub-problems, grid layout, hidden tests...).
    """

    id: str
    task: str
    prompt: str
    answer: str
    difficulty: int
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Problem":
        meta = d.get("meta") or {}
        if isinstance(meta, str):  # Parquet stores meta as a JSON string
            meta = json.loads(meta)
        return cls(
            id=str(d["id"]),
            task=str(d["task"]),
            prompt=str(d["prompt"]),
            answer=str(d["answer"]),
            difficulty=int(d["difficulty"]),
            meta=dict(meta),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> "Problem":
        return cls.from_dict(json.loads(s))

    def __hash__(self) -> int:  # meta is a dict, so hash by identity fields only
        return hash((self.id, self.task, self.prompt, self.answer, self.difficulty))


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters shared by every backend."""

    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False  # return the logprob of each sampled token

    @classmethod
    def to_answer(cls, temperature: float = 1.0, top_p: float = 1.0, max_new_tokens: int = 256,
                  seed: int | None = None, logprobs: bool = False) -> "Sampling":
        """The sampling of every stage that scores completions (curation, training, evaluation).

        Generation stops at the closing answer tag (the format's natural end; the verifier sees
        the tag), so pass rates are estimated under exactly the sampling training then uses.
        """
        return cls(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                   stop=(ANSWER_STOP,), seed=seed, logprobs=logprobs)


@dataclass
class Completion:
    """One sampled continuation of a prompt.

    token_ids / logprobs cover the generated tokens only (len == num_tokens).
    think_tokens + answer_tokens <= num_tokens; the rest is plan and format overhead.
    """

    text: str
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] | None = None
    finish_reason: Literal["stop", "length"] = "stop"
    num_tokens: int = 0
    think_tokens: int = 0
    answer_tokens: int = 0
    prompt_tokens: int = 0
    time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Completion":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})
