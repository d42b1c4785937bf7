"""beta-TCVAE (Chen et al. 2018): penalize the total correlation of q(z) instead of the whole KL.

With alpha = gamma = 1 in Chen et al.'s Eq. 4 the objective is the ELBO with an extra
(beta - 1) * TC, where TC = KL(q(z) || prod_j q(z_j)) is estimated on the minibatch by
minibatch-weighted sampling (MWS, Sec. 4.1):

    log q(z_i) ~ log sum_j q(z_i | x_j) - log(N M)

for a batch of M examples from a training set of N (``LossContext.n_train``; the batch size when
unknown), and likewise for each marginal q(z_id). The rate keeps its closed form (as in
disentanglement_lib's ``BetaTCVAE``), so KL warm-up and free bits apply to it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..distributions import DiagonalGaussian
from ..errors import ConfigError
from .base import MODELS, VAE, ElboTerms, LossContext, ModelConfig, free_bits_kl


@dataclass
class BetaTCVAEConfig(ModelConfig):
    """Attributes: beta: weight of the total-correlation term (1 gives the plain VAE)."""

    name: str = "beta_tcvae"
    beta: float = 6.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta < 0:
            raise ConfigError(f"model.beta must be non-negative, got {self.beta}")


def total_correlation(z: torch.Tensor, q: DiagonalGaussian, n_train: int = 0) -> torch.Tensor:
    """Minibatch-weighted-sampling estimate of TC = E_q(z)[log q(z) - sum_j log q(z_j)] (Chen et al. 2018).

    Args:
        z: ``(M, Z)`` samples, z_i ~ q(z | x_i).
        q: the batch posterior, ``mu, logvar (M, Z)``.
        n_train: training-set size N (values below M are replaced by M).
    Returns a scalar in nats.
    """
    m = z.shape[0]
    log_norm = math.log(max(n_train, m) * m)
    pairs = DiagonalGaussian(q.mu.unsqueeze(0), q.logvar.unsqueeze(0))  # rows: samples, cols: posteriors
    log_qzx = pairs.log_prob_dims(z.unsqueeze(1))  # (M_i, M_j, Z): log q(z_id | x_j)
    log_qz = torch.logsumexp(log_qzx.sum(2), dim=1) - log_norm  # (M,)
    log_prod_marginals = (torch.logsumexp(log_qzx, dim=1) - log_norm).sum(1)  # (M,)
    return (log_qz - log_prod_marginals).mean()


@MODELS.register("beta_tcvae")
class BetaTCVAE(VAE):
    """The VAE whose regularizer is ``kl_weight * (KL + (beta - 1) * TC)``."""

    Config = BetaTCVAEConfig

    def regularizer(self, terms: ElboTerms, ctx: LossContext) -> torch.Tensor:
        kl = free_bits_kl(terms.kl, ctx.free_bits, ctx.free_bits_group)
        tc = total_correlation(terms.z, terms.posterior, ctx.n_train)
        return ctx.kl_weight * (kl + (self.config.beta - 1.0) * tc)
