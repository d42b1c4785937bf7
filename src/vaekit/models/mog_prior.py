"""A VAE with a learned mixture-of-Gaussians prior (the "MoG" prior of Tomczak & Welling 2018, Sec. 3.2).

    p(z) = sum_k pi_k N(z; mu_k, diag(sigma_k^2))

Weights (as logits), means and log-variances of the K components are parameters learned with the
ELBO. The initial means are drawn from N(0, ``init_spread``^2 I) so components start apart, the
variances at 1 and the weights equal. As for the VampPrior, the rate is the per-example Monte Carlo
log-ratio (no closed form) and does not factorize per dimension.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..distributions import GaussianMixture
from ..errors import ConfigError
from .base import MODELS, VAE, Capabilities, ModelConfig


@dataclass
class MoGPriorConfig(ModelConfig):
    """Learned mixture prior options.

    Attributes:
        n_components: number K of Gaussian components.
        init_spread: standard deviation of the initial component means.
    """

    name: str = "mog_prior"
    n_components: int = 10
    init_spread: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_components < 1:
            raise ConfigError(f"model.n_components must be at least 1, got {self.n_components}")
        if self.init_spread < 0:
            raise ConfigError(f"model.init_spread must be non-negative, got {self.init_spread}")


@MODELS.register("mog_prior")
class MoGPriorVAE(VAE):
    """The VAE with a learned K-component diagonal Gaussian mixture as its prior."""

    Config = MoGPriorConfig
    capabilities = Capabilities(kl_per_dim=False)

    def build(self) -> None:
        super().build()
        k, z = self.config.n_components, self.latent_dim
        self.prior_logits = nn.Parameter(torch.zeros(k))
        self.prior_mu = nn.Parameter(torch.randn(k, z) * self.config.init_spread)
        self.prior_logvar = nn.Parameter(torch.zeros(k, z))

    @property
    def prior_name(self) -> str:
        return f"learned mixture of {self.config.n_components} Gaussians"

    def prior(self) -> GaussianMixture:
        return GaussianMixture(self.prior_logits, self.prior_mu, self.prior_logvar)
