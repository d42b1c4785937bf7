"""Hierarchical VAE with top-down (ladder) inference (Sonderby et al. 2016, LVAE).

Generative model with L stochastic layers (z_1 nearest the data, z_L on top)::

    p(x, z) = p(x | z_1) * prod_{l<L} p(z_l | z_{l+1}) * p(z_L),   p(z_L) = N(0, I)

with learned Gaussian conditional priors p(z_l | z_{l+1}) (Eq. 1-3 of the LVAE paper). Inference
runs bottom-up once, giving per-layer Gaussians N(mu_hat_l, sigma_hat_l) from x alone, then top-down:
q(z_L | x) = N(mu_hat_L, sigma_hat_L) and, for l < L, q(z_l | z_{l+1}, x) is the precision-weighted
merge of N(mu_hat_l, sigma_hat_l) with the prior p(z_l | z_{l+1}) at the sampled z_{l+1}
(LVAE Eq. 17-19). The rate is the sum over layers of KL(q(z_l | .) || p(z_l | z_{l+1})) against the
*conditional* prior, each in closed form given the sampled parent (a one-sample estimate of
E_q[KL_l]), not against N(0, I) at every level.

Shapes: layer l has Z_l units; ``ElboTerms.kl`` concatenates the per-layer KLs bottom first,
``(B, Z_1 + ... + Z_L)``, so free bits and per-dimension statistics cover every layer.
``encode(x)`` returns the top-layer posterior q(z_L | x).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..distributions import DiagonalGaussian
from ..errors import ConfigError
from ..likelihoods import Likelihood
from ..nets import Decoder, Encoder, mlp
from .base import MODELS, VAE, ElboTerms, ModelConfig, repeat_batch


@dataclass
class HierarchicalConfig(ModelConfig):
    """Ladder VAE options (``latent_dim`` is the top layer, ``net`` the x <-> z_1 networks).

    Attributes:
        lower_latent_dims: sizes of z_1 .. z_{L-1}, bottom first (at least one).
        ladder_hidden: deterministic widths between consecutive stochastic layers (the bottom-up
            MLP z_l-features -> z_{l+1}-features uses them in order, the top-down prior MLP
            z_{l+1} -> p(z_l | z_{l+1}) in reverse).
    """

    name: str = "hierarchical"
    lower_latent_dims: list = field(default_factory=lambda: [32])
    ladder_hidden: list = field(default_factory=lambda: [64])

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.lower_latent_dims:
            raise ConfigError("model.lower_latent_dims must name at least one layer below the top")
        for key in ("lower_latent_dims", "ladder_hidden"):
            widths = getattr(self, key)
            if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
                raise ConfigError(f"model.{key} must be a list of positive integers, got {widths!r}")


@dataclass
class Layer:
    """One stochastic layer of a top-down pass: sample ``z (B, Z_l)``, posterior, conditional prior."""

    z: torch.Tensor
    q: DiagonalGaussian
    p: DiagonalGaussian


def precision_weighted(a: DiagonalGaussian, b: DiagonalGaussian) -> DiagonalGaussian:
    """The Gaussian proportional to N(a) N(b) (LVAE Eq. 18-19).

    var = 1 / (1/var_a + 1/var_b), mu = var * (mu_a / var_a + mu_b / var_b); computed with
    log-variances: mu = w mu_a + (1 - w) mu_b, w = sigmoid(logvar_b - logvar_a).
    """
    w = torch.sigmoid(b.logvar - a.logvar)  # (B, Z) weight of a
    logvar = -torch.logaddexp(-a.logvar, -b.logvar)
    return DiagonalGaussian(w * a.mu + (1 - w) * b.mu, logvar)


def _gaussian(params: torch.Tensor) -> DiagonalGaussian:
    mu, logvar = params.chunk(2, dim=-1)
    return DiagonalGaussian(mu, logvar)


@MODELS.register("hierarchical")
class HierarchicalVAE(VAE):
    """Ladder VAE with L = len(lower_latent_dims) + 1 stochastic layers."""

    Config = HierarchicalConfig

    @property
    def latent_dims(self) -> list[int]:
        """Units per stochastic layer, bottom (z_1) first, top (z_L = ``latent_dim``) last."""
        return [*self.config.lower_latent_dims, self.latent_dim]

    def build(self) -> None:
        """x -> z_1 body and z_1 -> x decoder from ``net``; MLPs between the stochastic layers."""
        cfg, dims, hidden = self.config, self.latent_dims, self.config.ladder_hidden
        n_params = self.likelihood_cls.n_params(self.likelihood_options)
        self.encoder = Encoder(cfg.net, self.sample_shape, dims[0])  # x -> (mu_hat_1, logvar_hat_1)
        self.decoder = Decoder(cfg.net, self.sample_shape, dims[0], n_params)  # z_1 -> p(x | z_1)
        width = self.encoder.head.in_features
        self.up, self.up_heads, self.down = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for z_below, z_above in zip(dims[:-1], dims[1:]):
            self.up.append(mlp([width, *hidden], cfg.net.activation, final_activation=True))
            width = hidden[-1] if hidden else width
            self.up_heads.append(nn.Linear(width, 2 * z_above))
            self.down.append(mlp([z_above, *reversed(hidden), 2 * z_below], cfg.net.activation))

    # --- the two passes --------------------------------------------------------------------------
    def bottom_up(self, x: torch.Tensor) -> list[DiagonalGaussian]:
        """Data-only Gaussians N(mu_hat_l, sigma_hat_l) per layer, bottom first (LVAE Eq. 14-16)."""
        d = self.encoder.body(x)  # (B, F)
        out = [_gaussian(self.encoder.head(d))]
        for up, head in zip(self.up, self.up_heads):
            d = up(d)  # (B, F_l)
            out.append(_gaussian(head(d)))
        return out

    def conditional_prior(self, l: int, z_above: torch.Tensor) -> DiagonalGaussian:
        """p(z_l | z_{l+1}) for layer index ``l`` (0 = z_1) given ``z_above (B, Z_{l+1})``."""
        return _gaussian(self.down[l](z_above))

    def top_down(self, bu: list[DiagonalGaussian], use_mean: bool = False) -> list[Layer]:
        """Posterior samples (or means) of every layer, bottom first (LVAE Eq. 17-19)."""
        q = bu[-1]
        p = DiagonalGaussian.standard(q.mu.shape, device=q.mu.device, dtype=q.mu.dtype)
        layers = [Layer(q.mean if use_mean else q.rsample(), q, p)]
        for l in reversed(range(len(bu) - 1)):
            p = self.conditional_prior(l, layers[0].z)
            q = precision_weighted(bu[l], p)
            layers.insert(0, Layer(q.mean if use_mean else q.rsample(), q, p))
        return layers

    def descend(self, z_top: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Ancestral draw of z_1 given z_L through the conditional priors: ``(B, Z_L) -> (B, Z_1)``."""
        z = z_top
        for l in reversed(range(len(self.down))):
            z = self.conditional_prior(l, z).rsample(temperature=temperature)
        return z

    # --- the interface ---------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """The top-layer posterior q(z_L | x), ``(B, Z_L)``."""
        return self.bottom_up(x)[-1]

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Likelihood:
        """p(x | z_L): one ancestral draw of z_{L-1} .. z_1, then p(x | z_1)."""
        return self.observe(self.descend(z))

    def observe(self, z1: torch.Tensor) -> Likelihood:
        """p(x | z_1) for ``z1 (B, Z_1)``."""
        return self.likelihood_cls(self.decoder(z1), self.likelihood_options)

    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None) -> ElboTerms:
        """log p(x | z_1) and KL(q(z_l | .) || p(z_l | z_{l+1})) per layer, concatenated bottom first."""
        layers = self.top_down(self.bottom_up(x))
        kl = torch.cat([layer.q.kl_dims(layer.p) for layer in layers], dim=1)  # (B, sum Z_l)
        return ElboTerms(log_px=self.observe(layers[0].z).log_prob(x), kl=kl, z=layers[-1].z,
                         posterior=layers[-1].q)

    def importance_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                         k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(x | z_1) and sum_l [log p(z_l | z_{l+1}) - log q(z_l | .)] per unit, for k draws.

        Returns ``(k, B)`` and ``(k, B, sum Z_l)``; p(z_L) = N(0, I) closes the chain.
        """
        b = x.shape[0]
        bu = [DiagonalGaussian(repeat_batch(g.mu, k), repeat_batch(g.logvar, k)) for g in self.bottom_up(x)]
        layers = self.top_down(bu)  # each z: (k * B, Z_l)
        log_px = self.observe(layers[0].z).log_prob(repeat_batch(x, k)).view(k, b)
        log_ratio = torch.cat([l.p.log_prob_dims(l.z) - l.q.log_prob_dims(l.z) for l in layers], dim=1)
        return log_px, log_ratio.view(k, b, -1)

    # --- conveniences ----------------------------------------------------------------------------
    @torch.no_grad()
    def posterior_means(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Posterior means of every layer, bottom first, from a top-down pass that follows means."""
        return [layer.z for layer in self.top_down(self.bottom_up(x), use_mean=True)]

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | z_1] with every z_l at its posterior mean: ``(B, *shape)``."""
        return self.observe(self.posterior_means(x)[0]).mean

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, temperature: float = 1.0,
               mean: bool = True) -> torch.Tensor:
        """Ancestral sampling z_L -> ... -> z_1 -> x, every layer's noise scaled by ``temperature``."""
        w = next(self.parameters())
        z_top = DiagonalGaussian.standard((n, self.latent_dim), w.device, w.dtype).rsample(temperature=temperature)
        px = self.observe(self.descend(z_top, temperature))
        return px.mean if mean else px.sample()
