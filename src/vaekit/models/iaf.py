"""A VAE with an inverse autoregressive flow posterior (Kingma et al. 2016, IAF).

q(z | x) transforms a diagonal Gaussian sample through T autoregressive steps (Sec. 4, Eq. 10-12)::

    z_0 = mu(x) + sigma(x) * eps,     z_t = m_t + exp(s_t) * z_{t-1},
    [m_t, s_t] = MADE_t(z_{t-1}, h(x)),   log q(z_T | x) = log N(z_0; mu, sigma) - sum_t sum_i s_{t,i}

where m_{t,i} and s_{t,i} depend only on the z_{t-1,j} before i in step t's order (Germain et al.
2015, MADE masks) and on a context vector h(x) from the encoder, so every step is invertible with a
triangular Jacobian whose log-determinant is sum_i s_{t,i}. Orders alternate (natural, reversed)
between steps. This is the affine form of the step (as in MAF, Papamakarios et al. 2017); Kingma et
al.'s gated variant z_t = sigma_t z_{t-1} + (1 - sigma_t) m_t has the same Jacobian structure. Log
scales are soft-clamped, s = c * tanh(s_raw / c) with c = ``max_log_scale``, for stability; the output
layers start near zero, so the flow starts near the identity (Kingma et al. also initialize near it).

Why written here instead of using a flow library (zuko, nflows): the few layers needed (a masked
linear layer, a MADE, an affine step, about 80 lines) keep the posterior inside vaekit's distribution
protocol, read the evaluator's keyed noise (:func:`vaekit.distributions.standard_normal`), need no
new dependency pinned against torch, and the masks are tested directly.

The posterior's density is known at its own samples only (inverting an IAF takes Z sequential
passes), so the rate is the one-sample Monte Carlo log-ratio per example and does not factorize per
dimension. ``q.mean`` is the flow applied to mu(x) (the image of the base mean, not E_q[z]).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..distributions import DiagonalGaussian
from ..errors import ConfigError
from .base import MODELS, VAE, Capabilities, ModelConfig

#: Scale of the uniform initial weights of each step's output layer (near-identity start).
OUTPUT_INIT = 1e-2


@dataclass
class IAFConfig(ModelConfig):
    """IAF posterior options.

    Attributes:
        n_flows: number T of autoregressive steps (0 gives the diagonal Gaussian posterior).
        flow_hidden: hidden widths of each step's MADE.
        context_dim: width of the context h(x) every step reads (0: none).
        max_log_scale: bound c of the soft-clamped log scales.
    """

    name: str = "iaf"
    n_flows: int = 2
    flow_hidden: list = field(default_factory=lambda: [128])
    context_dim: int = 32
    max_log_scale: float = 3.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_flows < 0 or self.context_dim < 0:
            raise ConfigError("model.n_flows and model.context_dim must be non-negative")
        if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in self.flow_hidden):
            raise ConfigError(f"model.flow_hidden must be a list of positive integers, got {self.flow_hidden!r}")
        if self.max_log_scale <= 0:
            raise ConfigError(f"model.max_log_scale must be positive, got {self.max_log_scale}")


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask ``(out, in)``."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_degrees(z_dim: int, hidden: list[int], reverse: bool) -> list[torch.Tensor]:
    """MADE degrees (Germain et al. 2015, Sec. 4): inputs 1..Z (reversed on request), hidden units
    cycling through 1..Z-1 (0 when Z = 1: they read the context only)."""
    order = torch.arange(1, z_dim + 1)
    degrees = [order.flip(0) if reverse else order]
    for width in hidden:
        degrees.append(torch.arange(width) % max(1, z_dim - 1) + min(1, z_dim - 1))
    return degrees


class IAFStep(nn.Module):
    """One affine autoregressive step z' = m(z, h) + exp(s(z, h)) * z, with log|det| = sum_i s_i.

    Args:
        z_dim: Z. hidden: MADE hidden widths. context_dim: width of h (0: none).
        reverse: use the reversed variable order. max_log_scale: soft clamp of s.
    """

    def __init__(self, z_dim: int, hidden: list[int], context_dim: int, reverse: bool,
                 max_log_scale: float) -> None:
        super().__init__()
        degrees = made_degrees(z_dim, hidden, reverse)
        self.layers = nn.ModuleList(MaskedLinear(d_out[:, None] >= d_in[None, :])
                                    for d_in, d_out in zip(degrees[:-1], degrees[1:]))
        out_mask = degrees[0][:, None] > degrees[-1][None, :]  # (Z, H_last): output i reads degrees < i
        self.out = MaskedLinear(torch.cat([out_mask, out_mask]))  # [m; s]: (2Z, H_last)
        nn.init.uniform_(self.out.weight, -OUTPUT_INIT, OUTPUT_INIT)
        nn.init.zeros_(self.out.bias)
        first = hidden[0] if hidden else 2 * z_dim
        self.context = nn.Linear(context_dim, first) if context_dim else None
        self.max_log_scale = max_log_scale

    def forward(self, z: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``z (..., Z)``, ``h (..., C)`` -> ``z' (..., Z)`` and log|det dz'/dz| ``(...,)``."""
        a = z
        for i, layer in enumerate(self.layers):
            a = layer(a)
            if i == 0 and self.context is not None:
                a = a + self.context(h)
            a = F.elu(a)
        raw = self.out(a)  # (..., 2Z)
        if not self.layers and self.context is not None:  # no hidden layer: the context enters the output
            raw = raw + self.context(h)
        m, s = raw.chunk(2, dim=-1)  # (..., Z) each
        s = self.max_log_scale * torch.tanh(s / self.max_log_scale)
        return m + torch.exp(s) * z, s.sum(-1)


class FlowPosterior:
    """q(z | x): a diagonal Gaussian base pushed through IAF steps (see the module docstring).

    Args:
        base: N(mu(x), sigma(x)^2), batch ``(B,)``.
        steps: the IAF steps. h: ``(B, C)`` context, or None.
    """

    def __init__(self, base: DiagonalGaussian, steps: nn.ModuleList, h: torch.Tensor | None) -> None:
        self.base, self.steps, self.h = base, steps, h
        self.mu, self.logvar = base.mu, base.logvar  # of the base Gaussian

    def flow(self, z: torch.Tensor, log_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.h if self.h is None or z.dim() == self.h.dim() else self.h.expand(*z.shape[:-1], -1)
        for step in self.steps:
            z, log_det = step(z, h)
            log_q = log_q - log_det
        return z, log_q

    def rsample_with_log_prob(self, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """z_T and log q(z_T | x) (Eq. 12): ``(B, Z)`` and ``(B,)``, or with a leading ``n``."""
        return self.flow(*self.base.rsample_with_log_prob(n))

    def rsample(self, n: int | None = None, temperature: float = 1.0) -> torch.Tensor:
        """z_T from a base draw whose noise is scaled by ``temperature``."""
        z0 = self.base.rsample(n, temperature)
        return self.flow(z0, torch.zeros_like(z0[..., 0]))[0]

    @property
    def mean(self) -> torch.Tensor:
        """The flow applied to the base mean mu(x): ``(B, Z)`` (a location, not E_q[z])."""
        return self.flow(self.base.mu, torch.zeros_like(self.base.mu[..., 0]))[0]


@MODELS.register("iaf")
class IAFVAE(VAE):
    """The VAE whose posterior is a diagonal Gaussian followed by ``n_flows`` IAF steps."""

    Config = IAFConfig
    capabilities = Capabilities(kl_per_dim=False, gaussian_posterior=False)

    def build(self) -> None:
        super().build()
        cfg = self.config
        features = self.encoder.head.in_features  # body features (+ condition)
        self.context = nn.Linear(features, cfg.context_dim) if cfg.context_dim else None
        self.flows = nn.ModuleList(IAFStep(self.latent_dim, cfg.flow_hidden, cfg.context_dim, t % 2 == 1,
                                           cfg.max_log_scale) for t in range(cfg.n_flows))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> FlowPosterior:
        """q(z | x): the base Gaussian's mu, logvar ``(B, Z)`` and the context h ``(B, C)`` from one body pass."""
        d = self.encoder.body(x)  # (B, F)
        cond = self.condition(y)
        if cond is not None:
            d = torch.cat([d, cond], dim=1)
        mu, logvar = self.encoder.head(d).chunk(2, dim=1)
        h = None if self.context is None else self.context(d)
        return FlowPosterior(DiagonalGaussian(mu, logvar), self.flows, h)
