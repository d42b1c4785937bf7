"""The shared model interface and the ELBO (Kingma & Welling 2014, Eq. 3).

Every model: ``encode(x) -> posterior``, ``decode(z) -> likelihood``, ``loss(x) -> named terms``.
Variants override a hook (``elbo_terms``, ``regularizer``, ``objective``), never the whole ELBO.

The denoising criterion (Im et al. 2017, the denoising variational lower bound) is one argument of the shared bound: ``x_in``, what
the encoder sees. ``loss(x, x_in=x_tilde)`` encodes the corrupted x~, decodes, and scores the clean x:
E_{q(z|x~)}[log p(x|z)] - KL(q(z|x~) || p(z)) with x~ drawn from the corruption p(x~|x). Every hook
that encodes (``elbo_terms``, ``importance_terms``, ``objective``) takes ``x_in`` and passes it on; a
model that cannot honour it sets ``denoising = False`` and ``loss`` refuses a corrupted input.

Loss convention (everywhere in vaekit): per example, distortion = -log p(x|z) summed over data
dimensions and rate = KL(q(z|x) || p(z)) summed over latent dimensions, both averaged over the batch,
in nats. ``nelbo = distortion + rate`` is the negative ELBO.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import build_strict, used_if
from ..device import device_of
from ..distributions import DiagonalGaussian
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
        kl: ``(B, Z)`` KL per latent dimension (all stochastic layers concatenated).
        z: ``(B, Z)`` the posterior sample used.
        posterior: q(z | x) (top layer for hierarchical models).
    """

    log_px: torch.Tensor
    kl: torch.Tensor
    z: torch.Tensor
    posterior: DiagonalGaussian


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
    conditional = False
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
        """q(z | x): ``x (B, *shape)`` -> posterior with ``mu, logvar (B, Z)``."""
        mu, logvar = self.encoder(x, self.condition(y))
        return DiagonalGaussian(mu, logvar)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Likelihood:
        """p(x | z): ``z (B, Z)`` -> likelihood over ``(B, *shape)``."""
        return self.likelihood_cls(self.decoder(z, self.condition(y)), self.likelihood_options)

    def prior(self, n: int, device=None) -> DiagonalGaussian:
        """p(z) = N(0, I) for ``n`` examples."""
        return DiagonalGaussian.standard((n, self.latent_dim), device=device)

    # --- the objective and its hooks -----------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   x_in: torch.Tensor | None = None) -> ElboTerms:
        """One-sample ELBO pieces with the reparameterization trick (hook for hierarchical models).

        ``x_in`` (same shape as ``x``) is what the encoder sees, None meaning ``x`` itself: with a
        corrupted x~ the terms are those of the denoising bound (Im et al. 2017), q(z | x~)
        scored on the clean x.
        """
        q = self.encode(x if x_in is None else x_in, y)
        z = q.rsample()  # (B, Z)
        return ElboTerms(log_px=self.decode(z, y).log_prob(x), kl=q.kl_dims(), z=z, posterior=q)

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
        if x_in is not None:
            self.check_denoising()
            if x_in.shape != x.shape:
                raise ConfigError(f"the encoder's input has shape {tuple(x_in.shape)}, the scored x {tuple(x.shape)}")
        out = self.objective(x, y, ctx or LossContext(), x_in)
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
            mean over draws is a Monte Carlo KL per dimension).
        """
        q = self.encode(x if x_in is None else x_in, y)
        z = q.rsample(k)  # (k, B, Z)
        y_rep = None if y is None else repeat_batch(y, k)
        log_px = self.decode(z.flatten(0, 1), y_rep).log_prob(repeat_batch(x, k)).view(k, x.shape[0])
        return log_px, self.prior(1, x.device).log_prob_dims(z) - q.log_prob_dims(z)

    # --- auxiliary networks (e.g. the FactorVAE discriminator) -------------------------------------
    def auxiliary_parameters(self) -> list[nn.Parameter]:
        """Parameters trained by their own optimizer on :meth:`auxiliary_loss` (default: none)."""
        return []

    def main_parameters(self) -> list[nn.Parameter]:
        """Parameters the ELBO optimizer updates: all but the auxiliary ones."""
        aux = {id(p) for p in self.auxiliary_parameters()}
        return [p for p in self.parameters() if id(p) not in aux]

    def auxiliary_loss(self) -> torch.Tensor | None:
        """Loss of the auxiliary networks for the step just taken (None: nothing to update)."""
        return None

    # --- conveniences --------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, temperature: float = 1.0,
               mean: bool = True) -> torch.Tensor:
        """``n`` draws from the model: z ~ p(z) (scaled by ``temperature``), then E[x|z] or x ~ p(x|z)."""
        device = device_of(self)
        z = self.prior(n, device).rsample(temperature=temperature)
        px = self.decode(z, y)
        return px.mean if mean else px.sample()

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
