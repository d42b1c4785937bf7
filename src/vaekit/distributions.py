"""Diagonal Gaussian posteriors and priors with closed-form KL (Kingma & Welling 2014, Appendix B)."""

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
        if prior is None:
            return 0.5 * (torch.exp(self.logvar) + self.mu ** 2 - 1.0 - self.logvar)
        return 0.5 * (prior.logvar - self.logvar
                      + (torch.exp(self.logvar) + (self.mu - prior.mu) ** 2) * torch.exp(-prior.logvar) - 1.0)

    def kl(self, prior: "DiagonalGaussian | None" = None) -> torch.Tensor:
        """Closed-form KL summed over the last dimension, ``(...,)``."""
        return self.kl_dims(prior).sum(-1)


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
