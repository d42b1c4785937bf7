"""Schedules of a weight over optimizer steps: KL annealing against posterior collapse, and the ramp
that the KL schedules and beta-VAE's capacity C(step) (Burgess et al. 2018) share.

- constant: weight ``kl_max`` throughout.
- linear: warm-up from 0 to ``kl_max`` over ``warmup_steps`` (Bowman et al. 2016; Sonderby et al. 2016).
- cyclical: ``n_cycles`` cycles; in each, the weight rises linearly over the first ``cycle_ratio`` of
  the cycle and then stays at ``kl_max`` (Fu et al. 2019, Eq. 5-6 with R = cycle_ratio).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

SCHEDULES = ("constant", "linear", "cyclical")


def ramp(t: float, length: float) -> float:
    """A linear rise from 0 at ``t = 0`` to 1 at ``t = length`` (1 from then on, and when length <= 0)."""
    return min(1.0, t / length) if length > 0 else 1.0


def check_kind(kind: str, key: str = "train.kl_schedule") -> None:
    if kind not in SCHEDULES:
        raise ConfigError(f"{key} must be one of {', '.join(SCHEDULES)}, got {kind!r}")


@dataclass
class KLSchedule:
    """Step -> KL weight.

    Attributes:
        kind: "constant", "linear" or "cyclical".
        kl_max: the weight reached (a beta schedule ends at beta).
        warmup_steps: length of the linear warm-up.
        total_steps: length of training (cyclical schedules split it into cycles).
        n_cycles: number of cycles.
        cycle_ratio: fraction of each cycle spent increasing.
    """

    kind: str = "constant"
    kl_max: float = 1.0
    warmup_steps: int = 0
    total_steps: int = 1
    n_cycles: int = 4
    cycle_ratio: float = 0.5

    def __post_init__(self) -> None:
        check_kind(self.kind)

    def __call__(self, step: int) -> float:
        if self.kind == "linear":
            return self.kl_max * ramp(step, self.warmup_steps)
        if self.kind == "cyclical":
            period = max(1.0, self.total_steps / self.n_cycles)
            return self.kl_max * ramp((step % period) / period, self.cycle_ratio)
        return self.kl_max
