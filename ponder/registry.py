"""One registry type for everything ponder looks up by name: tasks, rewards, backends, tools.

    REWARDS = Registry("reward")
    REWARDS.register("correct", correct)          # or @REWARDS.decorator("correct")
    REWARDS.get("corect")   # PonderError: unknown reward 'corect'; did you mean correct? (available: ...)

A name is registered once: a second registration under the same name raises `ValueError` (a
programming error, not bad user input). A failed lookup raises `PonderError` with one line that
lists close matches and the available names (the lm-evaluation-harness registry's manners).
Entries may be lazy: `register_lazy(name, "module:attr")` imports the target on first `get`, so
looking up `hf` never imports vLLM.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ponder.errors import PonderError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object, refusing duplicates, with helpful lookup errors."""

    def __init__(self, kind: str, hint: str = ""):
        self.kind = kind  # "task", "reward", ... (used in error messages)
        self.hint = hint  # appended to the list of names in a failed lookup (e.g. "also rg/<name>")
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}

    def register(self, name: str, obj: T) -> T:
        if not name:
            raise ValueError(f"a {self.kind} needs a non-empty name")
        if name in self._items or name in self._lazy:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj
        return obj

    def register_lazy(self, name: str, target: str) -> None:
        """Register `module:attr`, imported on first lookup."""
        if name in self._items or name in self._lazy:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._lazy[name] = target

    def decorator(self, name: str | None = None) -> Callable[[T], T]:
        """`@REG.decorator("name")` registers the decorated object (default name: its __name__)."""

        def deco(obj: T) -> T:
            self.register(name or getattr(obj, "__name__", ""), obj)
            return obj

        return deco

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)
        self._lazy.pop(name, None)

    def names(self) -> list[str]:
        return sorted({*self._items, *self._lazy})

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items) + len(self._lazy)

    def get(self, name: str) -> T:
        if name in self._items:
            return self._items[name]
        if name in self._lazy:
            module, _, attr = self._lazy[name].partition(":")
            try:
                obj = getattr(importlib.import_module(module), attr)
            except ImportError as e:
                raise PonderError(f"{self.kind} {name!r} is not available: {e}") from None
            return obj
        raise self.unknown(name)

    def unknown(self, name: str) -> PonderError:
        """The one-line error for a name that is not registered."""
        close = difflib.get_close_matches(str(name), self.names(), n=3, cutoff=0.5)
        did = f"; did you mean {', '.join(close)}?" if close else ""
        extra = f"; {self.hint}" if self.hint else ""
        return PonderError(f"unknown {self.kind} {name!r}{did} (available: {', '.join(self.names())}{extra})")
