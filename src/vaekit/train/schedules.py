"""KL-weight schedules against posterior collapse.

- constant: weight ``kl_max`` throughout.
- linear: warm-up from 0 to ``kl_max`` over ``warmup_steps`` (Bowman et al. 2016; Sonderby et al. 2016).
- cyclical: ``n_cycles`` cycles; in each, the weight rises linearly over the first ``cycle_ratio`` of
  the cycle and then stays at ``kl_max`` (Fu et al. 2019, Eq. 5-6 with R = cycle_ratio).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

SCHEDULES = ("constant", "linear", "cyclical")


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
        if self.kind not in SCHEDULES:
            raise ConfigError(f"train.kl_schedule must be one of {', '.join(SCHEDULES)}, got {self.kind!r}")

    def __call__(self, step: int) -> float:
        if self.kind == "linear":
            return self.kl_max * min(1.0, step / self.warmup_steps) if self.warmup_steps > 0 else self.kl_max
        if self.kind == "cyclical":
            period = max(1.0, self.total_steps / self.n_cycles)
            tau = (step % period) / period
            return self.kl_max * min(1.0, tau / self.cycle_ratio)
        return self.kl_max
