"""Hierarchical VAE with top-down (ladder) inference (Sonderby et al. 2016, LVAE; Vahdat & Kautz 2020, NVAE).

Generative model with L stochastic layers (z_1 nearest the data, z_L on top)::

    p(x, z) = p(x | z_1) * prod_{l<L} p(z_l | z_{l+1}) * p(z_L),   p(z_L) = the model's prior() (N(0, I))

with learned Gaussian conditional priors p(z_l | z_{l+1}) = N(mu_p, sigma_p) computed from top-down
features h_l = f_l(z_{l+1}) (LVAE Eq. 1-3). Inference runs bottom-up once, giving deterministic
features d_l of x per layer, then top-down: q(z_L | x) comes from d_L alone and, for l < L,
q(z_l | z_{l+1}, x) combines the bottom-up d_l with the top-down h_l at the sampled z_{l+1}, in one
of three ways (``posterior``):

* ``"residual"`` (default; NVAE Eq. 2): (d_mu, d_logvar) = g_l([d_l, h_l]) and
  q = N(mu_p + d_mu, sigma_p * exp(d_logvar / 2)), a correction of the conditional prior;
* ``"precision"`` (LVAE Eq. 17-19): the precision-weighted product of the bottom-up Gaussian
  N(mu_hat_l, sigma_hat_l) = g_l(d_l) with the prior;
* ``"direct"`` (as in the bidirectional-inference ResNet VAE of Kingma et al. 2016, IAF):
  q = N(g_l([d_l, h_l])), one head reading both passes, its top-down inputs starting at zero
  (:func:`zero_top_down`), so that at initialization q(z_1 | z_2, x) is a flat VAE's q(z_1 | x).
  Unlike the residual form, whose KL does not depend on mu_p (it cancels), the KL here pulls the
  conditional prior's mean towards the posterior's, which teaches p(z_l | z_{l+1}) directly.

The residual form trains much faster than the precision one (docs/benchmarks/models.md);
the precision-weighted one is kept as the LVAE reference. The rate is the sum over layers of KL(q(z_l | .) || p(z_l | z_{l+1}))
against the *conditional* prior, each in closed form given the sampled parent (a one-sample
estimate of E_q[KL_l]), not against N(0, I) at every level.

Shapes: layer l has Z_l units; ``ElboTerms.kl`` concatenates the per-layer KLs bottom first,
``(B, Z_1 + ... + Z_L)``, so free bits and per-dimension statistics cover every layer.
``encode(x)`` returns the top-layer posterior q(z_L | x).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..distributions import DiagonalGaussian, log_ratio_dims, rate_dims
from ..errors import ConfigError
from ..likelihoods import Likelihood
from ..nets import Decoder, Encoder, mlp
from .base import MODELS, VAE, ElboTerms, ModelConfig, repeat_batch


POSTERIORS = ("residual", "precision", "direct")


@dataclass
class HierarchicalConfig(ModelConfig):
    """Ladder VAE options (``latent_dim`` is the top layer, ``net`` the x <-> z_1 networks).

    Attributes:
        lower_latent_dims: sizes of z_1 .. z_{L-1}, bottom first (at least one).
        ladder_hidden: deterministic widths between consecutive stochastic layers (the bottom-up
            MLP d_l -> d_{l+1} uses them in order, the top-down MLP z_{l+1} -> h_l in reverse).
        posterior: how q(z_l | z_{l+1}, x) merges the two passes: "residual" (NVAE),
            "precision" (LVAE precision weighting) or "direct" (one head reads both passes).
    """

    name: str = "hierarchical"
    lower_latent_dims: list = field(default_factory=lambda: [32])
    ladder_hidden: list = field(default_factory=lambda: [64])
    posterior: str = "residual"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.posterior not in POSTERIORS:
            raise ConfigError(f"model.posterior must be one of {', '.join(POSTERIORS)}, got {self.posterior!r}")
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
    p: object


def precision_weighted(a: DiagonalGaussian, b: DiagonalGaussian) -> DiagonalGaussian:
    """The Gaussian proportional to N(a) N(b) (LVAE Eq. 18-19).

    var = 1 / (1/var_a + 1/var_b), mu = var * (mu_a / var_a + mu_b / var_b); computed with
    log-variances: mu = w mu_a + (1 - w) mu_b, w = sigmoid(logvar_b - logvar_a).
    """
    w = torch.sigmoid(b.logvar - a.logvar)  # (B, Z) weight of a
    logvar = -torch.logaddexp(-a.logvar, -b.logvar)
    return DiagonalGaussian(w * a.mu + (1 - w) * b.mu, logvar)


def zero_init(layer: nn.Linear) -> nn.Linear:
    """Zero weights and bias: a conditional prior that starts as N(0, I) whatever z_{l+1} is.

    The model then starts as a flat VAE per layer and learns the top-down dependence from there
    (as VDVAE zero-initializes the last layer of each residual branch, Child 2021, Sec. 3.5); what
    that gained on MNIST is in docs/benchmarks/models.md.
    """
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def zero_top_down(head: nn.Linear, n: int) -> nn.Linear:
    """Zero the weights of the last ``n`` inputs of ``head`` (the top-down features h_l).

    A direct posterior head then starts as a bottom-up one, q(z_l | x), and the model as a flat VAE
    under a learned prior, which learns to use z_{l+1} from there (the same idea as
    :func:`zero_init`).
    """
    if n:
        nn.init.zeros_(head.weight[:, -n:])
    return head


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

    @property
    def reads_top_down(self) -> bool:
        """Whether the lower layers' posterior heads read h_l (residual and direct forms)."""
        return self.config.posterior != "precision"

    def build(self) -> None:
        """x -> d_1 body and z_1 -> x decoder from ``net``; MLPs and heads between stochastic layers.

        Posterior heads: ``encoder.head`` for z_1, ``up_heads[l - 1]`` for z_l (l >= 2); in the
        residual and direct forms the lower layers' heads also read the top-down features h_l.
        """
        cfg, dims, hidden = self.config, self.latent_dims, self.config.ladder_hidden
        act, n_params = cfg.net.activation, self.likelihood_cls.n_params(self.likelihood_options)
        h_width = [hidden[0] if hidden else z for z in dims[1:]]  # width of h_l, l = 1 .. L-1
        extra = [w if self.reads_top_down else 0 for w in h_width] + [0]  # top-down inputs of each head
        self.encoder = Encoder(cfg.net, self.sample_shape, dims[0], cond_dim=extra[0])
        self.decoder = Decoder(cfg.net, self.sample_shape, dims[0], n_params)  # z_1 -> p(x | z_1)
        width = self.encoder.head.in_features - extra[0]
        self.up, self.up_heads = nn.ModuleList(), nn.ModuleList()
        self.down, self.prior_heads = nn.ModuleList(), nn.ModuleList()
        for l, (z_below, z_above) in enumerate(zip(dims[:-1], dims[1:])):
            self.up.append(mlp([width, *hidden], act, final_activation=True))
            width = hidden[-1] if hidden else width
            self.up_heads.append(nn.Linear(width + extra[l + 1], 2 * z_above))
            self.down.append(mlp([z_above, *reversed(hidden)], act, final_activation=True) if hidden else nn.Identity())
            self.prior_heads.append(zero_init(nn.Linear(h_width[l], 2 * z_below)))
        if cfg.posterior == "direct":
            for head, n in zip([self.encoder.head, *self.up_heads], extra):
                zero_top_down(head, n)

    # --- the two passes --------------------------------------------------------------------------
    def bottom_up(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Deterministic features d_l of x per layer, bottom first: ``(B, F_l)`` each (LVAE Eq. 14-16)."""
        d = [self.encoder.body(x)]  # (B, F_1)
        for up in self.up:
            d.append(up(d[-1]))  # (B, F_{l+1})
        return d

    def posterior_head(self, l: int, d: torch.Tensor, h: torch.Tensor | None = None) -> DiagonalGaussian:
        """The Gaussian of layer index ``l`` (0 = z_1) from d_l (and h_l in the residual and direct forms)."""
        head = self.encoder.head if l == 0 else self.up_heads[l - 1]
        return _gaussian(head(d if h is None else torch.cat([d, h], dim=-1)))

    def conditional_prior(self, l: int, z_above: torch.Tensor) -> DiagonalGaussian:
        """p(z_l | z_{l+1}) for layer index ``l`` (0 = z_1) given ``z_above (B, Z_{l+1})``."""
        return _gaussian(self.prior_heads[l](self.down[l](z_above)))

    def merge(self, l: int, d: torch.Tensor, z_above: torch.Tensor) -> tuple[DiagonalGaussian, DiagonalGaussian]:
        """q(z_l | z_{l+1}, x) and p(z_l | z_{l+1}) for layer index ``l < L - 1``."""
        h = self.down[l](z_above)  # (B, H_l)
        p = _gaussian(self.prior_heads[l](h))
        if self.config.posterior == "precision":
            return precision_weighted(self.posterior_head(l, d), p), p
        if self.config.posterior == "direct":
            return self.posterior_head(l, d, h), p
        delta = self.posterior_head(l, d, h)  # NVAE Eq. 2: offsets relative to the prior
        return DiagonalGaussian(p.mu + delta.mu, p.logvar + delta.logvar), p

    def top_down(self, d: list[torch.Tensor], use_mean: bool = False) -> list[Layer]:
        """Posterior samples (or means) of every layer, bottom first, from bottom-up features ``d``."""
        q = self.posterior_head(len(d) - 1, d[-1])
        layers = [Layer(q.mean if use_mean else q.rsample(), q, self.prior())]
        for l in reversed(range(len(d) - 1)):
            q, p = self.merge(l, d[l], layers[0].z)
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
        d = self.bottom_up(x)
        return self.posterior_head(len(d) - 1, d[-1])

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Likelihood:
        """p(x | z_L): one ancestral draw of z_{L-1} .. z_1, then p(x | z_1)."""
        return self.observe(self.descend(z))

    def observe(self, z1: torch.Tensor) -> Likelihood:
        """p(x | z_1) for ``z1 (B, Z_1)``."""
        return self.likelihood_cls(self.decoder(z1), self.likelihood_options)

    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   x_in: torch.Tensor | None = None) -> ElboTerms:
        """log p(x | z_1) and KL(q(z_l | .) || p(z_l | z_{l+1})) per layer, concatenated bottom first;
        the bottom-up pass reads ``x_in`` when given (the denoising criterion)."""
        layers = self.top_down(self.bottom_up(x if x_in is None else x_in))
        kl = torch.cat([rate_dims(layer.q, layer.p, layer.z) for layer in layers], dim=1)  # (B, sum Z_l)
        return ElboTerms(log_px=self.observe(layers[0].z).log_prob(x), kl=kl, z=layers[-1].z,
                         posterior=layers[-1].q)

    def importance_terms(self, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 1,
                         x_in: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(x | z_1) and sum_l [log p(z_l | z_{l+1}) - log q(z_l | .)] per unit, for k draws.

        Returns ``(k, B)`` and ``(k, B, sum Z_l)``; p(z_L) = :meth:`prior` closes the chain. The
        bottom-up pass reads ``x_in`` when given.
        """
        b = x.shape[0]
        d = self.bottom_up(x if x_in is None else x_in)
        layers = self.top_down([repeat_batch(f, k) for f in d])  # each z: (k * B, Z_l)
        log_px = self.observe(layers[0].z).log_prob(repeat_batch(x, k)).view(k, b)
        log_ratio = torch.cat([log_ratio_dims(l.q, l.p, l.z) for l in layers], dim=1)
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
               mean: bool = True, prior=None) -> torch.Tensor:
        """Ancestral sampling z_L -> ... -> z_1 -> x, every layer's noise scaled by ``temperature``;
        z_L from ``prior`` when given (e.g. a post-hoc density), else from :meth:`prior`."""
        z_top = (self.prior() if prior is None else prior).sample(n, temperature)  # (n, Z_L)
        px = self.observe(self.descend(z_top, temperature))
        return px.mean if mean else px.sample()
