"""Per-epoch sums of the loss terms and the non-finite skip counters.

Two implementations with one interface. On CUDA (:class:`DeviceTally`) everything stays on the
device, so a step never waits for the GPU; the skip counters are read every ``check_every`` steps
and a streak that ended in between is still seen (the longest streak is kept). On CPU
(:class:`HostTally`) the skip flag is already on the host, and a few Python additions cost less than
the tiny tensor operations they replace. Both save the same tensors in checkpoints.
"""

from __future__ import annotations

import torch

from ..errors import TrainingError

#: Accumulated per epoch: n-weighted sums of the TERMS, then n.
N_SUMS = 5


def stop_error(streak: int, step: int) -> TrainingError:
    return TrainingError(f"stopped after {streak} consecutive non-finite steps (step {step}); the last good "
                         "weights and a checkpoint are saved; lower train.lr or set train.grad_clip and resume")


class HostTally:
    """Sums and skip counters as Python numbers (CPU training)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sums, self.skipped, self.run = [0.0] * N_SUMS, 0, 0

    def add(self, terms: list[float], bad: bool, n: int) -> None:
        """One step: its 4 terms (Python floats, as the host :class:`~vaekit.train.step.Stepper`
        returns them) over ``n`` examples, or a skip when ``bad``."""
        if bad:
            self.skipped += 1
            self.run += 1
            return
        self.run = 0
        for i, value in enumerate(terms):
            self.sums[i] += value * n
        self.sums[-1] += n

    def check(self, step: int, force: bool = False) -> None:
        """Raise after ``limit`` consecutive skips."""
        if self.run >= self.limit:
            raise stop_error(self.run, step)

    def epoch_sums(self, device: torch.device) -> torch.Tensor:
        return torch.tensor(self.sums, dtype=torch.float64, device=device)

    def new_epoch(self) -> None:
        self.sums = [0.0] * N_SUMS

    def reset_streak(self) -> None:
        """Forget the current streak (a stopped run that is resumed gets a fresh allowance)."""
        self.run = 0

    def state(self) -> dict[str, torch.Tensor]:
        return {"sums": torch.tensor(self.sums, dtype=torch.float64),
                "counts": torch.tensor([self.skipped, self.run, self.run], dtype=torch.int64)}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        self.sums = state["sums"].tolist()
        self.skipped, self.run, _ = state["counts"].tolist()


class DeviceTally:
    """Sums and skip counters as device tensors, updated without host synchronization (CUDA)."""

    def __init__(self, device: torch.device, limit: int, check_every: int) -> None:
        self.limit, self.check_every = limit, check_every
        self.acc = torch.zeros(N_SUMS, dtype=torch.float64, device=device)
        self.counts = torch.zeros(3, dtype=torch.int64, device=device)  # skipped, streak, longest streak
        self.one = torch.ones(1, dtype=torch.float64, device=device)

    @property
    def skipped(self) -> int:
        return int(self.counts[0])

    def add(self, terms: torch.Tensor, bad: torch.Tensor, n: int) -> None:
        self.acc.add_(torch.cat([terms.double(), self.one]).masked_fill_(bad, 0.0), alpha=n)
        self.counts[:2].add_(bad)
        self.counts[1].mul_(bad)  # streak: +1 after a skip, 0 after an update
        self.counts[2] = torch.maximum(self.counts[1], self.counts[2])

    def check(self, step: int, force: bool = False) -> None:
        """Every ``check_every`` steps (or when forced): raise after ``limit`` consecutive skips."""
        if not force and step % self.check_every:
            return
        longest = int(self.counts[2])
        self.counts[2] = self.counts[1]
        if longest >= self.limit:
            raise stop_error(longest, step)

    def epoch_sums(self, device: torch.device) -> torch.Tensor:
        return self.acc.clone()

    def new_epoch(self) -> None:
        self.acc.zero_()

    def reset_streak(self) -> None:
        self.counts[1:] = 0

    def state(self) -> dict[str, torch.Tensor]:
        return {"sums": self.acc, "counts": self.counts}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        self.acc.copy_(state["sums"])
        self.counts.copy_(state["counts"])


def make_tally(device: torch.device, limit: int, check_every: int = 32) -> HostTally | DeviceTally:
    return DeviceTally(device, limit, check_every) if device.type == "cuda" else HostTally(limit)
