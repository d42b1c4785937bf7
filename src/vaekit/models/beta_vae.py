"""beta-VAE (Higgins et al. 2017) and its capacity-controlled form (Burgess et al. 2018).

Both change only the rate penalty (:meth:`regularizer`); the ELBO pieces and the reported terms are
the plain VAE's. Beta multiplies the KL in vaekit's convention (nats per example, summed over data
dimensions and latents), so beta = 1 is the ELBO whatever the image size. Its value is comparable
across datasets only in that convention: a loss averaged over pixels silently changes the effective
beta by a factor of D.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import used_if
from ..errors import ConfigError
from ..schedules import ramp
from .base import MODELS, VAE, ElboTerms, LossContext, ModelConfig, free_bits_kl


@dataclass
class BetaVAEConfig(ModelConfig):
    """beta-VAE options.

    Attributes:
        beta: weight of the KL (Higgins et al. 2017, Eq. 4); 1 gives the plain VAE.
        capacity_max: C_max in nats; when > 0 the objective is ``gamma * |KL - C(step)|``
            (Burgess et al. 2018, Eq. 8) instead of ``beta * KL``.
        capacity_steps: optimizer steps over which C rises linearly from 0 to ``capacity_max``.
        gamma: weight of the capacity penalty (Burgess et al. use 1000 with summed Bernoulli losses).
    """

    name: str = "beta_vae"
    beta: float = used_if(lambda c: not c.capacity_max > 0, default=4.0)
    capacity_max: float = 0.0
    capacity_steps: int = used_if(lambda c: c.capacity_max > 0, default=100_000)
    gamma: float = used_if(lambda c: c.capacity_max > 0, default=1000.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta < 0 or self.capacity_max < 0 or self.gamma < 0:
            raise ConfigError("model.beta, model.capacity_max and model.gamma must be non-negative")
        if self.capacity_steps < 1:
            raise ConfigError(f"model.capacity_steps must be at least 1, got {self.capacity_steps}")


@MODELS.register("beta_vae")
class BetaVAE(VAE):
    """The VAE with ``beta * KL`` or the capacity penalty ``gamma * |KL - C|`` as its regularizer."""

    Config = BetaVAEConfig

    def capacity(self, step: int) -> float:
        """C(step) = C_max * min(1, step / capacity_steps) in nats (Burgess et al. 2018, Sec. 4)."""
        cfg = self.config
        return cfg.capacity_max * ramp(step, cfg.capacity_steps)

    def regularizer(self, terms: ElboTerms, ctx: LossContext) -> torch.Tensor:
        """``kl_weight * beta * KL``, or ``kl_weight * gamma * |KL - C(step)|``; KL with free bits."""
        kl = free_bits_kl(terms.kl, ctx.free_bits, ctx.free_bits_group)
        if self.config.capacity_max > 0:
            return ctx.kl_weight * self.config.gamma * (kl - self.capacity(ctx.step)).abs()
        return ctx.kl_weight * self.config.beta * kl
