"""Importance weighted autoencoders (Burda et al. 2015): the k-sample bound as the training objective.

    L_k(x) = E[log (1/k) sum_i w_i],   w_i = p(x, z_i) / q(z_i | x),   z_i ~ q(z | x)   (Eq. 8)

L_1 is the ELBO and L_k grows with k towards log p(x) (Theorem 1). The objective works for any model
whose :meth:`~vaekit.models.base.VAE.importance_terms` gives log p(x | z) and log p(z) - log q(z | x),
so the flat VAE ("iwae") and the ladder VAE ("hierarchical_iwae") share it.

Reported terms keep the vaekit convention: ``distortion`` = -E log p(x | z) and ``rate`` = the Monte
Carlo KL, both averaged over the k draws, so ``nelbo`` is the (k-draw average) negative ELBO,
comparable with every other model; ``iwae_bound`` is L_k per example. The loss is -L_k.

Posterior-collapse remedies: the KL weight w scales log p(z) - log q(z | x) inside every weight
(an annealed bound, log w_i = log p(x | z_i) + w [log p(z_i) - log q(z_i | x)]); free bits add the
hinge w * sum_g max(0, lambda - KL_g) on the batch-mean Monte Carlo KL per group, which cancels the
rate's pull on groups below lambda as in the ELBO form of Kingma et al. (2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from .base import MODELS, VAE, LossContext, ModelConfig, free_bits_kl
from .hierarchical import HierarchicalConfig, HierarchicalVAE


@dataclass
class ImportanceSamplesConfig:
    """Config mixin. Attributes: k: importance samples per example in the training objective."""

    k: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k < 1:
            raise ConfigError(f"model.k (importance samples) must be at least 1, got {self.k}")


@dataclass
class IWAEConfig(ImportanceSamplesConfig, ModelConfig):
    """The flat VAE's options plus ``k``."""

    name: str = "iwae"


@dataclass
class HierarchicalIWAEConfig(ImportanceSamplesConfig, HierarchicalConfig):
    """The ladder VAE's options plus ``k``."""

    name: str = "hierarchical_iwae"


def log_mean_exp(t: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log (1/n) sum exp(t) over ``dim``, stable."""
    return torch.logsumexp(t, dim) - math.log(t.shape[dim])


class ImportanceWeighted:
    """Mixin replacing the ``objective`` hook of a VAE with the k-sample IWAE bound."""

    def objective(self, x: torch.Tensor, y: torch.Tensor | None, ctx: LossContext,
                  x_in: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        log_px, log_ratio = self.importance_terms(x, y, self.config.k, x_in)  # (k, B), (k, B, Z)
        bound = log_mean_exp(log_px + ctx.kl_weight * log_ratio.sum(-1))  # (B,)
        kl = -log_ratio.mean(0)  # (B, Z) Monte Carlo KL per unit
        hinge = free_bits_kl(kl, ctx.free_bits, ctx.free_bits_group) - kl.mean(0).sum()  # 0 without free bits
        plain = bound if ctx.kl_weight == 1.0 else log_mean_exp(log_px + log_ratio.sum(-1))
        return {"loss": -bound.mean() + ctx.kl_weight * hinge, "distortion": -log_px.mean(),
                "rate": kl.sum(1).mean(), "iwae_bound": plain.detach().mean()}


@MODELS.register("iwae")
class IWAE(ImportanceWeighted, VAE):
    """The flat VAE trained on the k-sample bound."""

    Config = IWAEConfig


@MODELS.register("hierarchical_iwae")
class HierarchicalIWAE(ImportanceWeighted, HierarchicalVAE):
    """The ladder VAE trained on the k-sample bound."""

    Config = HierarchicalIWAEConfig
