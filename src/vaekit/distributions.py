"""Latent distributions: diagonal Gaussians (closed-form KL, Kingma & Welling 2014, Appendix B),
N(0, I), and Gaussian mixtures (learned, VampPrior and post-hoc priors).

Every prior a model returns from ``VAE.prior()`` has one event dimension Z and no batch dimension, and
offers ``log_prob(z) -> (...,)`` for ``z (..., Z)`` and ``sample(n, temperature) -> (n, Z)``;
continuous ones also ``mean`` and ``stddev`` ``(Z,)`` (the marginal moments, used to centre and scale
traversals). Posteriors offer ``rsample(n)``, ``mean`` and ``rsample_with_log_prob(n) -> (z, log q(z|x))``,
the form every posterior can give (a flow's density is known at its own samples only); diagonal
Gaussians also ``log_prob_dims`` and ``kl_dims``, which the closed-form rate uses.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
from typing import Callable, Iterator

import torch

LOG_2PI = math.log(2 * math.pi)
#: Log-variances are clamped to this range so exp() neither overflows nor underflows to zero.
LOGVAR_RANGE = (-30.0, 20.0)
#: Optional source of the N(0, I) noise of :meth:`DiagonalGaussian.rsample`, a callable
#: ``(shape, device, dtype) -> Tensor`` set with :func:`noise_source` (the evaluator uses it to make
#: importance samples a function of (example, sample) only); None draws from torch's generator.
_NOISE: contextvars.ContextVar = contextvars.ContextVar("vaekit_noise", default=None)
#: Open :func:`noise_source` blocks in the process. While there are none, :func:`standard_normal` draws
#: ``torch.randn`` without reading the context variable: a read torch.compile cannot trace (it would
#: split a compiled training loss at every sample), whereas a module integer it guards on.
_NOISE_BLOCKS = 0
_NOISE_LOCK = threading.Lock()


class DiagonalGaussian:
    """N(mu, diag(exp(logvar))) over the last dimension.

    Args:
        mu: ``(..., Z)`` means.
        logvar: ``(..., Z)`` log-variances (clamped to :data:`LOGVAR_RANGE`).
    """

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor) -> None:
        self.mu = mu
        self.logvar = logvar.clamp(*LOGVAR_RANGE)

    @classmethod
    def standard(cls, shape: tuple[int, ...], device=None, dtype=None) -> "DiagonalGaussian":
        """The prior N(0, I) with batch shape ``shape[:-1]`` and event size ``shape[-1]``."""
        zeros = torch.zeros(shape, device=device, dtype=dtype)
        return cls(zeros, zeros)

    @property
    def mean(self) -> torch.Tensor:
        return self.mu

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def rsample(self, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Reparameterized sample z = mu + sigma * eps, eps ~ N(0, I) (Kingma & Welling 2014, Eq. 10).

        Returns ``(..., Z)``, or ``(n, ..., Z)`` when ``n`` is given.
        """
        shape = self.mu.shape if n is None else (n, *self.mu.shape)
        eps = standard_normal(shape, self.mu.device, self.mu.dtype)
        return self.mu + temperature * self.std * eps

    def sample(self, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Same as :meth:`rsample` (the name every prior answers to)."""
        return self.rsample(n, temperature)

    def rsample_with_log_prob(self, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterized sample and its log density: ``z (..., Z)`` (or ``(n, ..., Z)``) and ``(...,)``.

        log q(z) = -0.5 * sum_j (log 2 pi + logvar_j + eps_j^2), read from the noise eps itself.
        """
        shape = self.mu.shape if n is None else (n, *self.mu.shape)
        eps = standard_normal(shape, self.mu.device, self.mu.dtype)
        z = self.mu + self.std * eps
        return z, -0.5 * (LOG_2PI + self.logvar + eps ** 2).sum(-1)

    @property
    def stddev(self) -> torch.Tensor:
        return self.std

    def log_prob_dims(self, z: torch.Tensor) -> torch.Tensor:
        """Per-dimension log density, ``(..., Z)``; ``z`` may carry extra leading sample dims."""
        return -0.5 * (LOG_2PI + self.logvar + (z - self.mu) ** 2 * torch.exp(-self.logvar))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Log density summed over the last dimension: ``(...,)``."""
        return self.log_prob_dims(z).sum(-1)

    def kl_dims(self, prior: "DiagonalGaussian | None" = None) -> torch.Tensor:
        """Closed-form KL(self || prior) per dimension, ``(..., Z)``; prior defaults to N(0, I).

        KL = 0.5 * (logvar_p - logvar_q + (var_q + (mu_q - mu_p)^2) / var_p - 1).
        """
        if prior is None or isinstance(prior, StandardNormal):
            return 0.5 * (torch.exp(self.logvar) + self.mu ** 2 - 1.0 - self.logvar)
        return 0.5 * (prior.logvar - self.logvar
                      + (torch.exp(self.logvar) + (self.mu - prior.mu) ** 2) * torch.exp(-prior.logvar) - 1.0)

    def kl(self, prior: "DiagonalGaussian | None" = None) -> torch.Tensor:
        """Closed-form KL summed over the last dimension, ``(...,)``."""
        return self.kl_dims(prior).sum(-1)


class StandardNormal(DiagonalGaussian):
    """The prior N(0, I) over ``latent_dim`` dimensions; its zero tensors are made only when asked for.

    KL against it uses the short formula 0.5 * (var + mu^2 - 1 - logvar), as before priors were parts.
    """

    def __init__(self, latent_dim: int, device=None, dtype=None) -> None:  # noqa: D107 (no super: lazy)
        self.latent_dim, self.device, self.dtype = latent_dim, device, dtype

    @property
    def mu(self) -> torch.Tensor:
        return torch.zeros(self.latent_dim, device=self.device, dtype=self.dtype)

    @property
    def logvar(self) -> torch.Tensor:
        return self.mu

    @property
    def std(self) -> torch.Tensor:
        return torch.ones(self.latent_dim, device=self.device, dtype=self.dtype)

    def rsample(self, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        shape = (self.latent_dim,) if n is None else (n, self.latent_dim)
        return temperature * standard_normal(shape, self.device, self.dtype or torch.get_default_dtype())

    def log_prob_dims(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (LOG_2PI + z ** 2)


class GaussianMixture:
    """sum_k pi_k N(z; mu_k, diag(exp(logvar_k))) over the last dimension (a prior: no batch dimension).

    The VampPrior (Tomczak & Welling 2018, Eq. 9: K equal weights, components q(z | u_k)), the learned
    mixture prior and the post-hoc density of :mod:`vaekit.posthoc` are all this.

    Args:
        logits: ``(K,)`` unnormalized log mixture weights.
        mu: ``(K, Z)`` component means.
        logvar: ``(K, Z)`` component log-variances (clamped to :data:`LOGVAR_RANGE`).
    """

    def __init__(self, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> None:
        self.log_weights = torch.log_softmax(logits, dim=-1)  # (K,)
        self.mu, self.logvar = mu, logvar.clamp(*LOGVAR_RANGE)

    def log_prob_components(self, z: torch.Tensor) -> torch.Tensor:
        """log pi_k + log N(z; mu_k, var_k) for every component: ``(..., Z) -> (..., K)``.

        Expanded as -0.5 [sum_j (log 2 pi + logvar_kj + mu_kj^2 / var_kj) + z^2 . (1 / var_k)
        - 2 z . (mu_k / var_k)], two matrix products, so no ``(..., K, Z)`` tensor is ever made.
        """
        precision = torch.exp(-self.logvar)  # (K, Z)
        const = (LOG_2PI + self.logvar + self.mu ** 2 * precision).sum(-1)  # (K,)
        quad = (z ** 2) @ precision.T - 2 * z @ (self.mu * precision).T  # (..., K)
        return self.log_weights - 0.5 * (const + quad)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = logsumexp_k [log pi_k + log N(z; mu_k, var_k)]: ``(..., Z) -> (...,)``."""
        return torch.logsumexp(self.log_prob_components(z), dim=-1)

    def sample(self, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``n`` draws ``(n, Z)`` (one ``(Z,)`` when None): a component by its weight, then its Gaussian with
        standard deviations scaled by ``temperature``."""
        k = torch.multinomial(self.log_weights.exp(), 1 if n is None else n, replacement=True)  # (n,)
        eps = standard_normal((len(k), self.mu.shape[-1]), self.mu.device, self.mu.dtype)
        z = self.mu[k] + temperature * torch.exp(0.5 * self.logvar[k]) * eps  # (n, Z)
        return z[0] if n is None else z

    @property
    def mean(self) -> torch.Tensor:
        """sum_k pi_k mu_k: ``(Z,)``."""
        return self.log_weights.exp() @ self.mu

    @property
    def stddev(self) -> torch.Tensor:
        """Marginal standard deviation per dimension, sqrt(sum_k pi_k (var_k + mu_k^2) - mean^2): ``(Z,)``."""
        w = self.log_weights.exp()
        second = w @ (torch.exp(self.logvar) + self.mu ** 2)  # (Z,)
        return (second - self.mean ** 2).clamp_min(0).sqrt()


class FullCovarianceMixture:
    """sum_k pi_k N(z; mu_k, L_k L_k^T): a Gaussian mixture with full covariances (a post-hoc prior).

    Args:
        weights: ``(K,)`` mixture weights (summing to 1).
        mu: ``(K, Z)`` means. scale_tril: ``(K, Z, Z)`` lower Cholesky factors of the covariances.
    """

    def __init__(self, weights: torch.Tensor, mu: torch.Tensor, scale_tril: torch.Tensor) -> None:
        self.weights, self.mu, self.scale_tril = weights, mu, scale_tril

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``(..., Z) -> (...,)``."""
        diff = (z.unsqueeze(-2) - self.mu).unsqueeze(-1)  # (..., K, Z, 1)
        white = torch.linalg.solve_triangular(self.scale_tril.expand(*diff.shape[:-1], diff.shape[-2]),
                                              diff, upper=False)[..., 0]  # (..., K, Z)
        log_det = torch.diagonal(self.scale_tril, dim1=-2, dim2=-1).log().sum(-1)  # (K,)
        comp = -0.5 * (white ** 2).sum(-1) - log_det - 0.5 * self.mu.shape[-1] * LOG_2PI
        return torch.logsumexp(torch.log(self.weights) + comp, dim=-1)

    def sample(self, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``n`` draws ``(n, Z)``: a component by weight, then mu_k + T L_k eps."""
        k = torch.multinomial(self.weights, 1 if n is None else n, replacement=True)
        eps = standard_normal((len(k), self.mu.shape[-1], 1), self.mu.device, self.mu.dtype)
        z = self.mu[k] + temperature * (self.scale_tril[k] @ eps)[..., 0]
        return z[0] if n is None else z

    @property
    def mean(self) -> torch.Tensor:
        return self.weights @ self.mu

    @property
    def stddev(self) -> torch.Tensor:
        cov = self.scale_tril @ self.scale_tril.transpose(-1, -2)  # (K, Z, Z)
        second = self.weights @ (torch.diagonal(cov, dim1=-2, dim2=-1) + self.mu ** 2)
        return (second - self.mean ** 2).clamp_min(0).sqrt()


def closed_form_kl(q, p) -> bool:
    """Whether KL(q || p) has the closed form :meth:`DiagonalGaussian.kl_dims` (both diagonal Gaussians)."""
    return isinstance(q, DiagonalGaussian) and isinstance(p, DiagonalGaussian)


def draw(q, p, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A reparameterized ``z ~ q`` for a rate against ``p``, with log q(z) when the rate needs it.

    Returns ``(z, None)`` when KL(q || p) has a closed form (the density is not needed), else
    ``q.rsample_with_log_prob(n)``. Either way the same N(0, I) noise is read, so keyed evaluation
    noise gives the same z.
    """
    if closed_form_kl(q, p):
        return q.rsample(n), None
    return q.rsample_with_log_prob(n)


def rate_dims(q, p, z: torch.Tensor, log_q: torch.Tensor | None = None) -> torch.Tensor:
    """The rate of the ELBO per example: KL(q || p) where it is tractable, else its one-sample estimate.

    Both diagonal Gaussians: the closed form per dimension, ``(B, Z)``. Otherwise (a mixture or
    VampPrior prior, a flow posterior, a discrete code) the Monte Carlo log-ratio
    log q(z | x) - log p(z) at the posterior sample ``z`` as one column, ``(B, 1)``: an unbiased
    estimate of KL(q || p) per example, noisier than the closed form (Kingma & Welling 2014, Eq. 6
    vs Eq. 7).

    Args:
        q, p: posterior (batch ``(B,)``) and prior (no batch dimension).
        z: ``(B, Z)`` the sample the distortion was computed at.
        log_q: ``(B,)`` log q(z | x) from :func:`draw` (needed by posteriors without ``log_prob``).
    """
    if closed_form_kl(q, p):
        return q.kl_dims(p)
    log_q = q.log_prob(z) if log_q is None else log_q
    return (log_q - p.log_prob(z)).unsqueeze(-1)


def log_ratio_dims(q, p, z: torch.Tensor, log_q: torch.Tensor | None = None) -> torch.Tensor:
    """log p(z) - log q(z | x) for importance weights: per dimension ``(..., Z)`` when both are diagonal
    Gaussians, else one column ``(..., 1)`` (arguments as in :func:`rate_dims`; ``z`` may carry leading
    sample dimensions)."""
    if closed_form_kl(q, p):
        return p.log_prob_dims(z) - q.log_prob_dims(z)
    log_q = q.log_prob(z) if log_q is None else log_q
    return (p.log_prob(z) - log_q).unsqueeze(-1)


@contextlib.contextmanager
def noise_source(fn: Callable[[tuple, torch.device, torch.dtype], torch.Tensor]) -> Iterator[None]:
    """Within the block, :meth:`DiagonalGaussian.rsample` takes its N(0, I) noise from ``fn``."""
    global _NOISE_BLOCKS
    token = _NOISE.set(fn)
    with _NOISE_LOCK:
        _NOISE_BLOCKS += 1
    try:
        yield
    finally:
        _NOISE.reset(token)
        with _NOISE_LOCK:
            _NOISE_BLOCKS -= 1


def standard_normal(shape: tuple, device, dtype) -> torch.Tensor:
    """N(0, I) noise of ``shape``: from the active :func:`noise_source`, else ``torch.randn``."""
    fn = _NOISE.get() if _NOISE_BLOCKS else None
    if fn is None:
        return torch.randn(shape, device=device, dtype=dtype)
    return fn(tuple(shape), device, dtype)
