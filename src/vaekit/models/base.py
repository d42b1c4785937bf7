"""The shared model interface and the ELBO (Kingma & Welling 2014, Eq. 3).

Every model: ``encode(x) -> posterior``, ``decode(z) -> likelihood``, ``prior() -> p(z)``,
``loss(x) -> named terms``. Variants override a hook (``prior``, ``encode``, ``elbo_terms``,
``regularizer``, ``objective``), never the whole ELBO.

The denoising criterion (Im et al. 2017, the denoising variational lower bound) is one argument of the shared bound: ``x_in``, what
the encoder sees. ``loss(x, x_in=x_tilde)`` encodes the corrupted x~, decodes, and scores the clean x:
E_{q(z|x~)}[log p(x|z)] - KL(q(z|x~) || p(z)) with x~ drawn from the corruption p(x~|x). Every hook
that encodes (``elbo_terms``, ``importance_terms``, ``objective``) takes ``x_in`` and passes it on; a
model that cannot honour it sets ``denoising = False`` and ``loss`` refuses a corrupted input.

Loss convention (everywhere in vaekit): per example, distortion = -log p(x|z) summed over data
dimensions and rate = KL(q(z|x) || p(z)) summed over latent dimensions, both averaged over the batch,
in nats. ``nelbo = distortion + rate`` is the negative ELBO.

The prior is a part of the model, read from one place, :meth:`VAE.prior`: the training rate, the
importance weights of the NLL estimator, sampling, traversals, the report and the anomaly scores all
go through it. The rate is KL(q || p) in closed form where q and p are both diagonal Gaussians and
the one-sample Monte Carlo log-ratio log q(z|x) - log p(z) per example otherwise
(:func:`vaekit.distributions.rate_dims`). What a model's latent space supports is declared by its
:class:`Capabilities`, so evaluation and latent tools skip what does not apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from ..config import build_strict, used_if
from ..distributions import DiagonalGaussian, StandardNormal, draw, log_ratio_dims, rate_dims
from ..errors import ConfigError
from ..likelihoods import AUTO, LIKELIHOODS, Likelihood
from ..nets import Decoder, Encoder, NetConfig
from ..registry import Registry

MODELS: Registry = Registry("model")


@dataclass
class ModelConfig:
    """Options shared by every model; a model's own config subclasses this.

    Attributes:
        name: registered model name (selects the config class when loading).
        latent_dim: number of latent dimensions Z.
        net: encoder/decoder architecture.
        likelihood: registered likelihood name (bernoulli, gaussian, gaussian_learned, ...) or "auto":
            training resolves it from the data (:func:`vaekit.likelihoods.choose`) and saves the
            choice; a model built without data takes "auto" as bernoulli.
        sigma: standard deviation of the fixed-variance Gaussian likelihood.
        n_mix: mixture components of the discretized logistic likelihood.
    """

    name: str = "vae"
    latent_dim: int = 8
    net: NetConfig = field(default_factory=NetConfig)
    likelihood: str = AUTO
    sigma: float = used_if(lambda c: c.likelihood == "gaussian", default=1.0)
    n_mix: int = used_if(lambda c: c.likelihood == "logistic_mixture", default=1)

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ConfigError(f"model.latent_dim must be positive, got {self.latent_dim}")
        if self.likelihood != AUTO and self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"model.likelihood must be auto or one of {', '.join(LIKELIHOODS.names())}, "
                              f"got {self.likelihood!r}")
        if self.sigma <= 0:
            raise ConfigError(f"model.sigma must be positive, got {self.sigma}")
        if self.n_mix < 1:
            raise ConfigError(f"model.n_mix must be at least 1, got {self.n_mix}")

    @classmethod
    def __from_dict__(cls, data, path: str):
        """Dispatch to the registered model's own config class by ``name``."""
        name = data.get("name", cls.name) if isinstance(data, dict) else cls.name
        return build_strict(MODELS.get(name).Config, data, path)


@dataclass
class LossContext:
    """Training-time knobs of the objective (set by the KL schedule each step).

    Attributes:
        kl_weight: multiplier of the rate term (warm-up / cyclical annealing / beta schedule).
        free_bits: lambda of free bits (Kingma et al. 2016, Eq. 15), nats per group; 0 disables.
        free_bits_group: latent dimensions per free-bits group (1 = per dimension).
        step: optimizer step, for schedules inside an objective (e.g. capacity C(step)).
        n_train: training-set size N, for estimators that need it (beta-TCVAE's minibatch-weighted
            sampling); 0 means unknown (the batch size is used).
    """

    kl_weight: float = 1.0
    free_bits: float = 0.0
    free_bits_group: int = 1
    step: int = 0
    n_train: int = 0


@dataclass
class ElboTerms:
    """Per-example pieces of the ELBO.

    Attributes:
        log_px: ``(B,)`` log p(x | z) summed over data dimensions.
        kl: the rate per example: ``(B, Z)`` KL per latent dimension (all stochastic layers
            concatenated) when :attr:`Capabilities.kl_per_dim`, else ``(B, 1)``, the Monte Carlo
            log-ratio of the whole latent (see :func:`vaekit.distributions.rate_dims`).
        z: ``(B, Z)`` the posterior sample used.
        posterior: q(z | x) (top layer for hierarchical models), as :meth:`VAE.encode` returns it.
    """

    log_px: torch.Tensor
    kl: torch.Tensor
    z: torch.Tensor
    posterior: Any


@dataclass(frozen=True)
class Capabilities:
    """What a model's latent space supports; evaluation, latent tools and the report skip the rest.

    Attributes:
        density_bound: ``log_weights`` are importance weights whose log-mean-exp bounds log p(x), so
            the NLL, bits/dim and likelihood-based anomaly scores apply.
        stochastic_posterior: q(z | x) is not a point mass; False means one importance sample already
            gives the bound (evaluation then draws one instead of K).
        kl_per_dim: the rate is a sum of closed-form KLs per latent dimension (ElboTerms.kl is
            ``(B, Z)``): KL per dimension, per-dimension free bits, traversals ordered by KL.
        continuous_latent: z is a real vector the decoder reads anywhere: interpolation, traversals,
            arithmetic, projections and post-hoc priors apply.
        gaussian_posterior: q(z | x) is a diagonal Gaussian with ``mu`` and ``logvar``.
    """

    density_bound: bool = True
    stochastic_posterior: bool = True
    kl_per_dim: bool = True
    continuous_latent: bool = True
    gaussian_posterior: bool = True


def require(model: "VAE", capability: str, purpose: str) -> None:
    """Raise a :class:`ConfigError` naming ``purpose`` when ``model`` lacks ``capability``."""
    if not getattr(model.capabilities, capability):
        what = capability.replace("_", " ")
        raise ConfigError(f"{purpose} does not apply to model {model.config.name!r} (no {what})")


class VAE(nn.Module):
    """Variational autoencoder with a diagonal Gaussian posterior and N(0, I) prior.

    Args:
        config: model config.
        sample_shape: shape of one example, e.g. ``(1, 28, 28)`` or ``(64,)``.
        n_classes: number of classes (used by conditional models; stored for all).
        columns: the column layout of table data (a :class:`~vaekit.tabular.likelihood.ColumnLayout`,
            read by the ``tabular`` likelihood), or None.
    """

    Config = ModelConfig
    #: The model needs class labels: q(z | x, y) and p(x | z, y) (conditional VAE).
    conditional = False
    capabilities = Capabilities()
    #: The class is a latent variable the model infers (semi-supervised models): ``classify(x)`` gives
    #: labels, generation takes a class, and labels are optional inputs (-1 or None: unlabelled).
    classifies = False
    #: Every hook that encodes honours ``x_in`` (the denoising criterion applies to this model).
    denoising = True

    def __init__(self, config: ModelConfig, sample_shape: tuple[int, ...], n_classes: int | None = None,
                 columns: nn.Module | None = None) -> None:
        super().__init__()
        self.config, self.sample_shape, self.n_classes = config, tuple(sample_shape), n_classes
        self.columns = columns  # a submodule: its index buffers follow the model's device
        self.likelihood_cls = LIKELIHOODS.get("bernoulli" if config.likelihood == AUTO else config.likelihood)
        self.likelihood_options = {"sigma": config.sigma, "n_mix": config.n_mix, "columns": columns}
        self.build()

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def cond_dim(self) -> int:
        return 0

    def build(self) -> None:
        """Create the encoder and decoder (hook for variants with other networks)."""
        n_params = self.likelihood_cls.n_params(self.likelihood_options)
        self.encoder = Encoder(self.config.net, self.sample_shape, self.latent_dim, self.cond_dim)
        self.decoder = Decoder(self.config.net, self.sample_shape, self.latent_dim, n_params, self.cond_dim)

    def condition(self, y: torch.Tensor | None) -> torch.Tensor | None:
        """Conditioning vector ``(B, c)`` for labels ``y``; None for unconditional models."""
        return None

    # --- the interface -------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """q(z | x): ``x (B, *shape)`` -> posterior with ``mu, logvar (B, Z)`` (hook: other posteriors)."""
        mu, logvar = self.encoder(x, self.condition(y))
        return DiagonalGaussian(mu, logvar)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Likelihood:
        """p(x | z): ``z (B, Z)`` -> likelihood over ``(B, *shape)``."""
        return self.likelihood_cls(self.decoder(z, self.condition(y)), self.likelihood_options)

    def prior(self):
        """p(z), the one prior of the model (hook: learned priors override it). Default N(0, I).

        A distribution over ``(Z,)`` without batch dimension: ``log_prob(z)``, ``sample(n,
        temperature)`` and, for continuous latents, ``mean`` and ``stddev`` (see
        :mod:`vaekit.distributions`).
        """
        param = next(self.parameters())
        return StandardNormal(self.latent_dim, device=param.device, dtype=param.dtype)

    @property
    def prior_name(self) -> str:
        """A short description of :meth:`prior` for reports and figure captions."""
        return "N(0, I)"

    # --- the objective and its hooks -----------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   x_in: torch.Tensor | None = None) -> ElboTerms:
        """One-sample ELBO pieces with the reparameterization trick (hook for hierarchical models).

        The rate is against :meth:`prior`: closed form per dimension for two diagonal Gaussians,
        else the per-example Monte Carlo log-ratio (:func:`~vaekit.distributions.rate_dims`).
        ``x_in`` (same shape as ``x``) is what the encoder sees, None meaning ``x`` itself: with a
        corrupted x~ the terms are those of the denoising bound (Im et al. 2017), q(z | x~) scored on
        the clean x.
        """
        q, p = self.encode(x if x_in is None else x_in, y), self.prior()
        z, log_q = draw(q, p)  # (B, Z), (B,) or None
        return ElboTerms(log_px=self.decode(z, y).log_prob(x), kl=rate_dims(q, p, z, log_q), z=z, posterior=q)

    def regularizer(self, terms: ElboTerms, ctx: LossContext) -> torch.Tensor:
        """The penalty on the rate (hook: beta-VAE, capacity, TC). Default: KL with free bits."""
        return ctx.kl_weight * free_bits_kl(terms.kl, ctx.free_bits, ctx.free_bits_group)

    def objective(self, x: torch.Tensor, y: torch.Tensor | None, ctx: LossContext,
                  x_in: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Training loss and reported terms (hook: IWAE replaces the one-sample bound); the encoder sees ``x_in``."""
        terms = self.elbo_terms(x, y, x_in)
        distortion = -terms.log_px.mean()
        rate = terms.kl.sum(1).mean()
        return {"loss": distortion + self.regularizer(terms, ctx), "distortion": distortion, "rate": rate}

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, ctx: LossContext | None = None,
             x_in: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Named terms: ``loss`` (what is minimized), ``elbo``, ``nelbo``, ``rate``, ``distortion``.

        All are batch means in nats per example; ``elbo = -(distortion + rate)``. With ``x_in`` (a
        corrupted copy of ``x``, same shape) the encoder sees ``x_in`` and the decoder is scored on
        ``x``: the denoising VAE's criterion (Im et al. 2017).
        """
        ctx = ctx or LossContext()
        if ctx.free_bits > 0 and not self.capabilities.kl_per_dim:
            raise ConfigError(f"free bits are set per latent dimension, but model {self.config.name!r} has no "
                              "KL per dimension (its rate is a Monte Carlo estimate of the whole KL)")
        if x_in is not None:
            self.check_denoising()
            if x_in.shape != x.shape:
                raise ConfigError(f"the encoder's input has shape {tuple(x_in.shape)}, the scored x {tuple(x.shape)}")
        out = self.objective(x, y, ctx, x_in)
        out["nelbo"] = out["distortion"] + out["rate"]
        out["elbo"] = -out["nelbo"]
        return out

    def check_denoising(self) -> None:
        """ConfigError unless this model takes a corrupted encoder input (:attr:`denoising`)."""
        if not self.denoising:
            raise ConfigError(f"model {self.config.name!r} cannot train on corrupted inputs (train.corrupt): "
                              "its objective does not separate what the encoder sees from what is scored")

    def log_weights(self, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 1) -> torch.Tensor:
        """Importance log-weights log p(x, z_i) - log q(z_i | x), z_i ~ q(z|x): ``(k, B)``.

        The IWAE bound (Burda et al. 2015, Eq. 8) is ``logmeanexp`` of these over the first dim.
        """
        log_px, log_ratio = self.importance_terms(x, y, k)
        return log_px + log_ratio.sum(-1)

    def importance_terms(self, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 1,
                         x_in: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The two parts of :meth:`log_weights` for k reparameterized draws z_i ~ q(z | x).

        Hook for models with other latent structures (hierarchical models override it). With
        ``x_in`` the draws come from q(z | x_in) and are scored on ``x`` (the denoising criterion).

        Returns:
            log_px: ``(k, B)`` log p(x | z_i).
            log_ratio: ``(k, B, Z)`` log p(z_i) - log q(z_i | x) per latent dimension (its negative
            mean over draws is a Monte Carlo KL per dimension), or ``(k, B, 1)`` for the whole
            latent when the KL does not factorize; p is :meth:`prior`, as in the training rate.
        """
        q, p = self.encode(x if x_in is None else x_in, y), self.prior()
        z, log_q = draw(q, p, k)  # (k, B, Z), (k, B) or None
        y_rep = None if y is None else repeat_batch(y, k)
        log_px = self.decode(z.flatten(0, 1), y_rep).log_prob(repeat_batch(x, k)).view(k, x.shape[0])
        return log_px, log_ratio_dims(q, p, z, log_q)

    # --- auxiliary networks (e.g. the FactorVAE discriminator) -------------------------------------
    def auxiliary_parameters(self) -> list[nn.Parameter]:
        """Parameters trained by their own optimizer on :meth:`auxiliary_loss` (default: none)."""
        return []

    def main_parameters(self) -> list[nn.Parameter]:
        """Parameters the ELBO optimizer updates: all but the auxiliary and the frozen ones."""
        aux = {id(p) for p in self.auxiliary_parameters()}
        return [p for p in self.parameters() if id(p) not in aux and p.requires_grad]

    def warm_start(self, load: Callable[[str], "VAE"]) -> None:
        """Copy weights from the trained runs the config names (hook: M1+M2's feature VAE; default none).

        Called once when training starts, never when a run is reloaded or resumed; ``load(path)``
        returns the model of a run directory.
        """

    def auxiliary_loss(self) -> torch.Tensor | None:
        """Loss of the auxiliary networks for the step just taken (None: nothing to update)."""
        return None

    # --- conveniences --------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, temperature: float = 1.0,
               mean: bool = True, prior=None) -> torch.Tensor:
        """``n`` draws from the model: z ~ p(z) (scaled by ``temperature``), then E[x|z] or x ~ p(x|z).

        ``prior`` replaces :meth:`prior` for this draw (e.g. a post-hoc density of the aggregate
        posterior, :mod:`vaekit.posthoc`).
        """
        z = (self.prior() if prior is None else prior).sample(n, temperature)  # (n, Z)
        px = self.decode(z, y)
        return px.mean if mean else px.sample()

    def latent_summary(self, mu: torch.Tensor) -> dict[str, float]:
        """Model-specific statistics of posterior means ``mu (N, Z)`` for evaluation (hook; VQ-VAE reports
        codebook usage). Default: none."""
        return {}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | z = mu(x)]: ``(B, *shape)``."""
        return self.decode(self.encode(x, y).mean, y).mean

    @property
    def n_data_dims(self) -> int:
        return math.prod(self.sample_shape)


def repeat_batch(t: torch.Tensor, k: int) -> torch.Tensor:
    """``k`` copies of a batch stacked along dim 0, sample-major: ``(B, ...) -> (k * B, ...)``.

    Row ``i * B + b`` is example ``b``, so ``.view(k, B, ...)`` separates the copies again.
    """
    return t.unsqueeze(0).expand(k, *t.shape).reshape(k * t.shape[0], *t.shape[1:])


def free_bits_kl(kl: torch.Tensor, free_bits: float, group: int = 1) -> torch.Tensor:
    """Rate with free bits (Kingma et al. 2016, Eq. 15): sum_g max(lambda, E_batch[KL_g]).

    Args:
        kl: ``(B, Z)`` KL per example and latent dimension.
        free_bits: lambda in nats per group (0 gives the plain batch-mean KL).
        group: dimensions per group; Z must be divisible by it.
    Returns a scalar.
    """
    kl_mean = kl.mean(0)  # (Z,)
    if free_bits <= 0:
        return kl_mean.sum()
    if kl_mean.numel() % group:
        raise ConfigError(f"free-bits group size {group} does not divide the {kl_mean.numel()} latent dimensions")
    return kl_mean.view(-1, group).sum(1).clamp_min(free_bits).sum()
