"""Per-epoch sums of the loss terms and the skip counters, kept on the training device.

A step adds its terms without a host synchronization; the counters are read every ``limit`` steps
(and at epoch ends), and the longest streak of skips since the last read is kept, so a streak that
ended in between is still seen. Training therefore stops after between ``limit`` and ``2 * limit - 1``
consecutive skips (a skipped step changes nothing, so the extra ones cost only time).
"""

from __future__ import annotations

import torch

from ..errors import TrainingError

N_SUMS = 5  # per epoch: the n-weighted sums of the four step terms, then n


class Tally:
    """Sums of the terms of the steps taken and counters of those skipped, on ``device``; training
    stops after ``limit`` (``train.max_nonfinite``) consecutive skips."""

    def __init__(self, device: torch.device, limit: int) -> None:
        self.limit = limit
        self.sums = torch.zeros(N_SUMS, dtype=torch.float64, device=device)
        self.counts = torch.zeros(3, dtype=torch.int64, device=device)  # skipped, streak, longest streak
        self.one = torch.ones(1, dtype=torch.float64, device=device)

    @property
    def skipped(self) -> int:
        return int(self.counts[0])

    def add(self, terms: torch.Tensor, bad: torch.Tensor, n: int) -> None:
        """One step: ``terms (4,)`` over ``n`` examples, or a skip when ``bad`` (0-d bool)."""
        self.sums.add_(torch.cat([terms.double(), self.one]).masked_fill_(bad, 0.0), alpha=n)
        self.counts[:2].add_(bad)
        self.counts[1].mul_(bad)  # streak: +1 after a skip, 0 after an update
        self.counts[2] = torch.maximum(self.counts[1], self.counts[2])

    def check(self, step: int, force: bool = False) -> None:
        """Every ``limit`` steps (or when forced): raise after ``limit`` consecutive skips."""
        if not force and step % self.limit:
            return
        longest = int(self.counts[2])
        self.counts[2] = self.counts[1]
        if longest >= self.limit:
            raise TrainingError(f"stopped after {longest} consecutive non-finite or skipped steps (step {step})")

    def new_epoch(self) -> None:
        self.sums.zero_()

    def reset_streak(self) -> None:
        """Forget the current streak (a stopped run that is resumed gets a fresh allowance)."""
        self.counts[1:] = 0

    def state(self) -> dict[str, torch.Tensor]:
        return {"sums": self.sums, "counts": self.counts}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        self.sums.copy_(state["sums"])
        self.counts.copy_(state["counts"])
