"""Training: config, KL schedules, the loop, and the ``train`` entry point."""

from .config import RunConfig, TrainConfig
from ..schedules import KLSchedule

__all__ = ["RunConfig", "TrainConfig", "KLSchedule"]
