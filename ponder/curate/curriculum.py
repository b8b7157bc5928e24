"""A difficulty curriculum: open harder levels as the pass rate at the current ones rises.

    cur = Curriculum(levels=(1, 2, 3, 4, 5))       # starts on level 1 alone
    for step in range(steps):
        levels = cur.levels()                       # the band to draw this batch's problems from
        ... train on problems at those levels, measure the pass rate per level ...
        cur.update({1: 0.85, 2: 0.40})              # mean reward (pass rate) per level seen
        save(cur.state_dict())                      # JSON-able; load_state_dict() resumes it

The schedule. The active levels are a contiguous band [lo, hi] of `levels`. Each level's pass
rate is smoothed with an exponential moving average (`ema`), because one batch's rate is noisy.
- promote: when the smoothed pass rate at the hardest active level reaches `promote_at`
  (default 0.6, inside the curation window, where GRPO still learns) and the level has had
  `patience` updates since the band last changed, the next harder level joins the band;
- retire: when the easiest active level's smoothed rate reaches `retire_at` (0.95, almost never
  failed, so GRPO groups there carry no signal), it leaves the band, if the band has more than
  one level.
The trainer's prompt source (`ponder.rl.data.PromptSource`) draws problems from the band.

Departure from fixed curricula in the literature (e.g. staged difficulty in Kimi k1.5, or
Logic-RL's easy-to-hard schedules): stages advance on measured pass rates, not step counts, and
the band widens rather than jumping, so easy levels keep being rehearsed until they are solved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ponder.errors import PonderError

STATE_VERSION = 1


class Curriculum:
    def __init__(
        self,
        levels: Sequence[int] = (1, 2, 3, 4, 5),
        start: int | None = None,
        promote_at: float = 0.6,
        retire_at: float = 0.95,
        ema: float = 0.5,
        patience: int = 2,
    ):
        levels = tuple(sorted({int(x) for x in levels}))
        if not levels:
            raise PonderError("a curriculum needs at least one difficulty level")
        if not 0.0 < promote_at <= retire_at <= 1.0:
            raise PonderError(f"need 0 < promote_at <= retire_at <= 1, got {promote_at}, {retire_at}")
        if not 0.0 < ema <= 1.0:
            raise PonderError(f"ema must be in (0, 1], got {ema}")
        if patience < 1:
            raise PonderError(f"patience must be >= 1, got {patience}")
        start = levels[0] if start is None else int(start)
        if start not in levels:
            raise PonderError(f"start level {start} is not one of {list(levels)}")
        self.all_levels = levels
        self.promote_at, self.retire_at, self.ema, self.patience = promote_at, retire_at, ema, patience
        self.lo = self.hi = levels.index(start)  # indices into all_levels
        self.rates: dict[int, float] = {}  # smoothed pass rate per level
        self.updates_since_change = 0
        self.steps = 0
        self.history: list[dict] = []  # band changes: {"step", "event", "level"}

    # -- the schedule --------------------------------------------------------------------------
    def levels(self) -> list[int]:
        """The difficulty levels currently drawn from, easiest first."""
        return list(self.all_levels[self.lo:self.hi + 1])

    def update(self, pass_rates_by_level: Mapping[int, float]) -> list[int]:
        """Fold in measured pass rates (level -> mean success in [0, 1]); returns the new band.

        Levels outside the curriculum are ignored: a training batch drawn from a problems file
        may hold levels the schedule does not manage, and they should not stop training.
        """
        for level, rate in pass_rates_by_level.items():
            level, rate = int(level), float(rate)
            if level not in self.all_levels:
                continue
            if not 0.0 <= rate <= 1.0:
                raise PonderError(f"pass rate must be in [0, 1], got {rate} for level {level}")
            old = self.rates.get(level)
            self.rates[level] = rate if old is None else (1 - self.ema) * old + self.ema * rate
        self.steps += 1
        self.updates_since_change += 1
        hardest = self.all_levels[self.hi]
        if (self.hi + 1 < len(self.all_levels) and self.updates_since_change >= self.patience
                and self.rates.get(hardest, 0.0) >= self.promote_at):
            self.hi += 1
            self._changed("promote", self.all_levels[self.hi])
        easiest = self.all_levels[self.lo]
        if self.lo < self.hi and self.rates.get(easiest, 0.0) >= self.retire_at:
            self.lo += 1
            self._changed("retire", easiest)
        return self.levels()

    def _changed(self, event: str, level: int) -> None:
        self.updates_since_change = 0
        self.history.append({"step": self.steps, "event": event, "level": level})

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to resume, as plain JSON types (level keys become strings)."""
        return {
            "version": STATE_VERSION,
            "all_levels": list(self.all_levels),
            "levels": self.levels(),
            "promote_at": self.promote_at,
            "retire_at": self.retire_at,
            "ema": self.ema,
            "patience": self.patience,
            "rates": {str(k): v for k, v in sorted(self.rates.items())},
            "updates_since_change": self.updates_since_change,
            "steps": self.steps,
            "history": [dict(h) for h in self.history],
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Restore a `state_dict()`; PonderError (one line) on a malformed or foreign state.

        Keys it does not know (older states carry `newest_weight` and `drawn`) are ignored, so
        older checkpoints still resume.
        """
        try:
            if int(state["version"]) != STATE_VERSION:
                raise PonderError(f"curriculum state version {state['version']} is not {STATE_VERSION}")
            all_levels = tuple(int(x) for x in state["all_levels"])
            band = [int(x) for x in state["levels"]]
            fresh = Curriculum(all_levels, start=band[0], promote_at=float(state["promote_at"]),
                               retire_at=float(state["retire_at"]), ema=float(state["ema"]),
                               patience=int(state["patience"]))
            lo, hi = all_levels.index(band[0]), all_levels.index(band[-1])
            if band != list(all_levels[lo:hi + 1]):
                raise PonderError(f"curriculum state has a non-contiguous band {band}")
            fresh.hi = hi
            fresh.rates = {int(k): float(v) for k, v in state["rates"].items()}
            fresh.updates_since_change = int(state["updates_since_change"])
            fresh.steps = int(state["steps"])
            fresh.history = [dict(h) for h in state["history"]]
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise PonderError(f"malformed curriculum state ({type(e).__name__}: {e})") from None
        self.__dict__.update(fresh.__dict__)

    def __repr__(self) -> str:
        return f"Curriculum(levels={self.levels()}, rates={self.rates}, steps={self.steps})"
