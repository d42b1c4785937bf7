"""VampPrior (Tomczak & Welling 2018): the prior is the encoder's posterior averaged over K pseudo-inputs.

    p(z) = (1/K) sum_k q(z | u_k)                    (Eq. 9)

The pseudo-inputs u_k have the data's shape and are learned with the encoder and decoder by the
ELBO. As in the authors' code, each u_k is a free parameter passed through a hard tanh that keeps it
in ``pseudo_range`` ([0, 1], the range of binary or [0, 1]-scaled images; ``null`` leaves it
unbounded, e.g. for standardized data), initialized from N(``pseudo_init_mean``,
``pseudo_init_std``) (0.05 and 0.01 in their MNIST runs).

The KL between the Gaussian posterior and this mixture has no closed form, so the rate is the
one-sample Monte Carlo log-ratio log q(z | x) - log p(z) per example (base class, see
:func:`vaekit.distributions.rate_dims`) and the KL does not factorize per dimension. In training the
prior is rebuilt from the current parameters at every call; under ``torch.no_grad`` (evaluation,
sampling) it is computed once per parameter state and reused, so K-sample likelihood estimates do not
encode the K pseudo-inputs again in every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..distributions import GaussianMixture
from ..errors import ConfigError
from .base import MODELS, VAE, Capabilities, ModelConfig


@dataclass
class VampPriorConfig(ModelConfig):
    """VampPrior options.

    Attributes:
        n_pseudo: number K of pseudo-inputs (mixture components); 500 in the paper's MNIST runs.
        pseudo_range: ``[low, high]`` clamp of the pseudo-inputs (hard tanh), or None for none.
        pseudo_init_mean, pseudo_init_std: initial N(mean, std) of the pseudo-input parameters.
    """

    name: str = "vampprior"
    n_pseudo: int = 500
    pseudo_range: list | None = field(default_factory=lambda: [0.0, 1.0])
    pseudo_init_mean: float = 0.05
    pseudo_init_std: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_pseudo < 1:
            raise ConfigError(f"model.n_pseudo must be at least 1, got {self.n_pseudo}")
        if self.pseudo_range is not None and (len(self.pseudo_range) != 2
                                              or not self.pseudo_range[0] < self.pseudo_range[1]):
            raise ConfigError(f"model.pseudo_range must be [low, high] with low < high, or null; "
                              f"got {self.pseudo_range!r}")
        if self.pseudo_init_std < 0:
            raise ConfigError(f"model.pseudo_init_std must be non-negative, got {self.pseudo_init_std}")


@MODELS.register("vampprior")
class VampPriorVAE(VAE):
    """The VAE whose prior is the variational mixture of posteriors of K learned pseudo-inputs."""

    Config = VampPriorConfig
    capabilities = Capabilities(kl_per_dim=False)

    def build(self) -> None:
        super().build()
        cfg = self.config
        init = torch.randn(cfg.n_pseudo, *self.sample_shape) * cfg.pseudo_init_std + cfg.pseudo_init_mean
        self.pseudo = nn.Parameter(init)  # (K, *shape) before the clamp
        self._cached_prior: tuple[tuple, GaussianMixture] | None = None

    @property
    def prior_name(self) -> str:
        return f"VampPrior ({self.config.n_pseudo} pseudo-inputs)"

    def pseudo_inputs(self) -> torch.Tensor:
        """u_k: ``(K, *shape)``, clamped to ``pseudo_range``."""
        if self.config.pseudo_range is None:
            return self.pseudo
        low, high = self.config.pseudo_range
        return F.hardtanh(self.pseudo, low, high)

    def prior(self) -> GaussianMixture:
        """p(z) = (1/K) sum_k q(z | u_k) (Eq. 9); cached per parameter state outside autograd.

        The cache is keyed by the parameters' storage and version counters and dropped at every
        ``train()`` / ``eval()`` switch: fused Adam updates parameters in place without bumping their
        versions, and a training loop switches modes around each validation pass.
        """
        if torch.is_grad_enabled():
            return self.mixture()
        key = (self.training, *((p.data_ptr(), p._version) for p in self.parameters()))
        if self._cached_prior is None or self._cached_prior[0] != key:
            self._cached_prior = (key, self.mixture())
        return self._cached_prior[1]

    def train(self, mode: bool = True) -> "VampPriorVAE":
        self._cached_prior = None  # parameters may have changed since (see prior)
        return super().train(mode)

    def mixture(self) -> GaussianMixture:
        """The mixture of the K pseudo-input posteriors with equal weights."""
        q = self.encode(self.pseudo_inputs())  # mu, logvar (K, Z)
        return GaussianMixture(torch.zeros_like(q.mu[:, 0]), q.mu, q.logvar)
