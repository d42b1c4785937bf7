"""Observation models p(x | z): Bernoulli, Gaussian (fixed or learned variance), discretized logistic.

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
#: ``model.likelihood: auto`` resolves to the data source's own choice, else to this for data in
#: [0, 1] (images, binary data) and to ``gaussian_learned`` for anything else (e.g. standardized tables).
AUTO = "auto"
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

    @classmethod
    def support_error(cls, x: torch.Tensor) -> str | None:
        """Why model-space values ``x (B, *shape)`` lie outside this likelihood's support, or None."""
        return None

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

    @classmethod
    def support_error(cls, x: torch.Tensor) -> str | None:
        lo, hi = float(x.min()), float(x.max())
        return None if 0.0 <= lo and hi <= 1.0 else f"needs values in [0, 1], the data has [{lo:.4g}, {hi:.4g}]"

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


#: Half the width of one 8-bit bin on the [0, 1] scale: values k/255 own [x - 1/510, x + 1/510].
HALF_BIN = 0.5 / 255
#: Lower bound on logistic log-scales (PixelCNN++ uses -7), so bins never get infinitely sharp.
LOGISTIC_MIN_LOG_SCALE = -7.0


def log_discretized_logistic(x: torch.Tensor, mu: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(x) of a logistic(mu, s) discretized to the 8-bit grid k/255 (Salimans et al. 2017, Eq. 2).

    P(x) = sigma((x + 1/510 - mu) / s) - sigma((x - 1/510 - mu) / s), with the first bin's lower
    edge at -inf and the last bin's upper edge at +inf, so the 256 probabilities sum to 1. The
    difference of sigmoids sigma(a) - sigma(b) is taken in log space as
    log sigma(a) + log(-expm1(log sigma(b) - log sigma(a))); bins right of mu use the mirror identity
    sigma(a) - sigma(b) = sigma(-b) - sigma(-a), so both tails stay exact (no pdf approximation).

    Args:
        x: values in [0, 1] (broadcastable to ``mu``).
        mu, log_scale: logistic location and log-scale, same shape.
    Returns the elementwise log-probability.
    """
    inv_s = torch.exp(-log_scale.clamp_min(LOGISTIC_MIN_LOG_SCALE))
    upper = (x + HALF_BIN - mu) * inv_s
    lower = (x - HALF_BIN - mu) * inv_s
    upper = torch.where(x > 1 - HALF_BIN, torch.full_like(upper, math.inf), upper)  # last bin -> +inf
    lower = torch.where(x < HALF_BIN, torch.full_like(lower, -math.inf), lower)  # first bin -> -inf
    right = (x - mu) > 0  # mirror bins right of the location
    a = torch.where(right, -lower, upper)
    b = torch.where(right, -upper, lower)
    log_cdf_a, log_cdf_b = F.logsigmoid(a), F.logsigmoid(b)
    gap = (log_cdf_b - log_cdf_a).clamp_max(-1e-30)  # <= 0
    return log_cdf_a + torch.log(-torch.expm1(gap))


class _DiscretizedLogisticBase(Likelihood):
    """A mixture of discretized logistics per data dimension (PixelCNN++, Salimans et al. 2017).

    Decoder params per dimension: ``n_mix`` mixture logits, ``n_mix`` locations, ``n_mix`` log-scales
    (in that order along P; a single logistic has no logit, P = 2). Each dimension (each colour channel) has its own mixture; x in [0, 1] on
    the 8-bit grid k/255. Probabilities are exact bin masses, so bits/dim are exact.
    """

    discrete = True

    @staticmethod
    def n_mix(options: dict) -> int:
        return int(options.get("n_mix", 1))

    @classmethod
    def support_error(cls, x: torch.Tensor) -> str | None:
        off_grid = (x * 255 - torch.round(x * 255)).abs().max()
        if float(x.min()) < 0 or float(x.max()) > 1 or float(off_grid) > 1e-3:
            return "needs 8-bit data (values k/255 in [0, 1] after scaling)"
        return None

    @classmethod
    def n_params(cls, options: dict) -> int:
        m = cls.n_mix(options)
        return 2 if m == 1 else 3 * m

    def _parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log mixture weights, mu, log_scale), each ``(B, M, *shape)``."""
        m = self.n_mix(self.options)
        if m == 1:
            mu, log_scale = self.params.split(1, dim=1)
            log_pi = torch.zeros_like(mu)
        else:
            logits, mu, log_scale = self.params.split(m, dim=1)
            log_pi = torch.log_softmax(logits, dim=1)
        return log_pi, mu, log_scale.clamp_min(LOGISTIC_MIN_LOG_SCALE)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        log_pi, mu, log_scale = self._parts()
        lp = log_discretized_logistic(x.unsqueeze(1), mu, log_scale)  # (B, M, *shape)
        return sum_except_batch(torch.logsumexp(log_pi + lp, dim=1))

    @property
    def mean(self) -> torch.Tensor:
        """Mixture mean of the locations, clipped to [0, 1] (the underlying continuous mean)."""
        log_pi, mu, _ = self._parts()
        return (log_pi.exp() * mu).sum(1).clamp(0.0, 1.0)

    def sample(self) -> torch.Tensor:
        """Pick a component, draw a logistic by inverse CDF, round to the nearest k/255."""
        log_pi, mu, log_scale = self._parts()
        pick = F.one_hot(torch.distributions.Categorical(logits=log_pi.movedim(1, -1)).sample(), mu.shape[1])
        pick = pick.movedim(-1, 1).to(mu.dtype)  # (B, M, *shape) one-hot over components
        u = torch.rand_like(mu[:, 0]).clamp(1e-5, 1 - 1e-5)
        x = (pick * mu).sum(1) + (pick * log_scale).sum(1).exp() * (torch.log(u) - torch.log1p(-u))
        return (x.clamp(0.0, 1.0) * 255).round() / 255


@LIKELIHOODS.register("logistic")
class DiscretizedLogistic(_DiscretizedLogisticBase):
    """One discretized logistic per dimension (params: location, log-scale; ``n_mix`` ignored)."""

    @staticmethod
    def n_mix(options: dict) -> int:
        return 1


@LIKELIHOODS.register("logistic_mixture")
class DiscretizedLogisticMixture(_DiscretizedLogisticBase):
    """A mixture of ``n_mix`` discretized logistics per dimension (option ``n_mix``, default 1)."""


def choose(batches, hint: str | None = None) -> str:
    """The likelihood ``auto`` stands for: ``hint`` (the data source's), else by the values' range.

    Args:
        batches: model-space batches ``(b, *shape)`` covering the training data.
        hint: a registered likelihood name the source asks for, or None.
    """
    if hint is not None:
        return hint
    in_unit = all(float(x.min()) >= 0.0 and float(x.max()) <= 1.0 for x in batches)
    return "bernoulli" if in_unit else "gaussian_learned"


def support_error(name: str, batches) -> str | None:
    """The first reason why the model-space ``batches`` do not fit likelihood ``name``, or None."""
    cls = LIKELIHOODS.get(name)
    return next((err for err in map(cls.support_error, batches) if err is not None), None)


from .tabular import likelihood as _tabular  # noqa: E402,F401  (registers "tabular": one distribution per column)
