"""A lazily built object that belongs to one process: a forked child starts without it.

    _server = PerProcess(Server)      # at module level
    _server.get().ask(...)            # built on first use, in this process

For helpers that hold pipes to a subprocess (the reasoning-gym generator and scorer): a forked
child that kept its parent's object would talk over the parent's pipes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._obj: T | None = None
        os.register_at_fork(after_in_child=self.forget)

    def get(self) -> T:
        if self._obj is None:
            self._obj = self._factory()
        return self._obj

    def forget(self) -> None:
        self._obj = None
