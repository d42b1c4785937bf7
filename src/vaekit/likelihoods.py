"""Observation models p(x | z): Bernoulli, Gaussian (fixed or learned variance).

A decoder outputs ``params`` of shape ``(B, P, *sample_shape)``: P numbers per data dimension, P set
by the likelihood. Every log-probability is summed over all non-batch dimensions (so images and flat
vectors work alike) and returned per example, in nats.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F

from .registry import Registry

LIKELIHOODS: Registry = Registry("likelihood")
#: Learned Gaussian log-variances are squashed into this range (numerical safety).
GAUSSIAN_LOGVAR_RANGE = (-9.0, 5.0)


def sum_except_batch(t: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension but the first: ``(B, ...) -> (B,)``."""
    return t.reshape(t.shape[0], -1).sum(1)


class Likelihood(ABC):
    """A batch of distributions p(x | z) built from decoder outputs.

    Args:
        params: ``(B, P, *sample_shape)`` decoder outputs.
        options: the likelihood options of the model config (e.g. ``sigma``, ``n_mix``).
    """

    #: True when p(x|z) is a probability mass function (bits/dim are exact).
    discrete: bool = False

    def __init__(self, params: torch.Tensor, options: dict) -> None:
        self.params = params
        self.options = options

    @staticmethod
    def n_params(options: dict) -> int:
        """P: decoder outputs per data dimension."""
        return 1

    @abstractmethod
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x | z) summed over data dimensions. ``x: (B, *shape)`` -> ``(B,)``."""

    @property
    @abstractmethod
    def mean(self) -> torch.Tensor:
        """E[x | z], ``(B, *shape)``."""

    @abstractmethod
    def sample(self) -> torch.Tensor:
        """x ~ p(x | z), ``(B, *shape)``."""


@LIKELIHOODS.register("bernoulli")
class Bernoulli(Likelihood):
    """Bernoulli over each dimension, from logits (stable: BCE-with-logits); x in [0, 1]."""

    discrete = True

    @property
    def logits(self) -> torch.Tensor:
        return self.params[:, 0]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        bce = F.binary_cross_entropy_with_logits(self.logits, x, reduction="none")
        return -sum_except_batch(bce)

    @property
    def mean(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def sample(self) -> torch.Tensor:
        return torch.bernoulli(self.mean)


class _GaussianBase(Likelihood):
    """N(x; mu, sigma^2) per dimension; subclasses define the log-variance."""

    @property
    def mu(self) -> torch.Tensor:
        return self.params[:, 0]

    @property
    @abstractmethod
    def logvar(self) -> torch.Tensor:
        """Log-variance broadcastable to ``mu``."""

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        logvar = self.logvar
        lp = -0.5 * (math.log(2 * math.pi) + logvar + (x - self.mu) ** 2 * torch.exp(-logvar))
        return sum_except_batch(lp.expand_as(x))

    @property
    def mean(self) -> torch.Tensor:
        return self.mu

    def sample(self) -> torch.Tensor:
        return self.mu + torch.exp(0.5 * self.logvar) * torch.randn_like(self.mu)


@LIKELIHOODS.register("gaussian")
class Gaussian(_GaussianBase):
    """Gaussian with a fixed standard deviation ``sigma`` (option, default 1)."""

    @property
    def logvar(self) -> torch.Tensor:
        sigma = float(self.options.get("sigma", 1.0))
        return torch.full((), 2 * math.log(sigma), device=self.params.device, dtype=self.params.dtype)


@LIKELIHOODS.register("gaussian_learned")
class GaussianLearned(_GaussianBase):
    """Gaussian whose per-dimension log-variance the decoder outputs (softly kept in a safe range)."""

    @staticmethod
    def n_params(options: dict) -> int:
        return 2

    @property
    def logvar(self) -> torch.Tensor:
        lo, hi = GAUSSIAN_LOGVAR_RANGE
        return lo + (hi - lo) * torch.sigmoid(self.params[:, 1])
