"""Semi-supervised VAE: model M2 of Kingma et al. 2014, "Semi-Supervised Learning with Deep Generative Models".

The class is a latent variable: p(x, y, z) = p(x | y, z) p(y) p(z) with p(y) = Cat(1/C) and
p(z) = N(0, I) (Eq. 2), inferred by q(z | x, y) q(y | x) (Eq. 4). Encoder and decoder are the
conditional VAE's (:mod:`.cvae`: the label enters after the encoder body and beside z); q(y | x) is
a classifier with the encoder's body architecture and its own weights. Bounds per example (Eq. 6-7):

    labelled y:    log p(x, y) >= E_q(z|x,y)[log p(x | y, z) + log p(y)] - KL(q(z | x, y) || p(z)) = -L(x, y)
    unlabelled:    log p(x)    >= sum_y q(y | x) (-L(x, y)) + H(q(y | x))                          = -U(x)

Labels are ``y >= 0``; ``y = -1`` (:data:`vaekit.data.UNLABELLED`) or ``y = None`` marks unlabelled
examples, so one batch mixes both. The unlabelled bound sums over the C classes (one decoder pass
per class and example), which also yields the labelled bound as the entry of the observed class, so
both come from one mask-free code path (one compiled graph). Training minimizes Eq. 9 per example:

    loss = mean over the batch of [L(x, y) or U(x)] + alpha * mean over its labelled examples of -log q(y | x)

``alpha`` is the paper's alpha divided by the training-set size N: the paper's alpha = 0.1 N is
``model.alpha: 0.1`` (its released code weights the labelled term by alpha N / N_labelled and divides
the objective by N; that is this). Reported terms (vaekit convention, nats per example, batch means):

* ``distortion`` = -log p(observed | latents): -log p(x | y, z) - log p(y) for a labelled example,
  -sum_y q(y | x) log p(x | y, z_y) for an unlabelled one;
* ``rate`` = KL(q(latents | x) || p(latents)): KL(q(z | x, y) || p(z)) labelled;
  sum_y q(y | x) KL(q(z | x, y) || p(z)) + KL(q(y | x) || p(y)) unlabelled;
* ``nelbo`` = distortion + rate = L(x, y) labelled, U(x) unlabelled (a bound on -log p(x) when no
  label is given: evaluation and validation give none, see ``vaekit.evaluate``);
* ``classification`` = the mean -log q(y | x) over the labelled examples (0 without any).

The KL weight and free bits of ``train.*`` act on the z part of the rate; the class term keeps weight 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..device import device_of
from ..distributions import DiagonalGaussian, standard_normal
from ..errors import ConfigError
from ..nets import encoder_body
from .base import MODELS, ElboTerms, LossContext, free_bits_kl, repeat_batch
from .cvae import CVAE, CVAEConfig


@dataclass
class M2Config(CVAEConfig):
    """M2 options (plus the conditional VAE's ``label_encoding``, ``embed_dim``).

    Attributes:
        alpha: weight of the classification term -log q(y | x), per labelled example relative to the
            per-example bound (Eq. 9; the paper's alpha = 0.1 N is 0.1 here).
    """

    name: str = "m2"
    alpha: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha < 0:
            raise ConfigError(f"model.alpha must be non-negative, got {self.alpha}")


@dataclass
class ClassTerms(ElboTerms):
    """:class:`ElboTerms` of a model with a class latent; ``kl`` ends with the class column.

    Attributes:
        log_qy: ``(B, C)`` log q(y | x).
        y: ``(B,)`` the labels given (-1 where unlabelled).
    """

    log_qy: torch.Tensor = None
    y: torch.Tensor = None


def classification_loss(terms: ClassTerms) -> torch.Tensor:
    """Mean -log q(y | x) over the labelled examples of the batch (0 when there are none): scalar."""
    labelled = terms.y >= 0  # (B,)
    nll = -terms.log_qy.gather(1, terms.y.clamp_min(0)[:, None])[:, 0]  # (B,)
    return (nll * labelled).sum() / labelled.sum().clamp_min(1)


class ClassLatentObjective:
    """Mixin: the semi-supervised objective (Eq. 9) over :class:`ClassTerms` from ``elbo_terms``.

    ``z_columns`` names the columns of ``terms.kl`` that the KL schedule and free bits act on.
    """

    classifies = True

    def objective(self, x: torch.Tensor, y: torch.Tensor | None, ctx: LossContext,
                  x_in: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        terms = self.elbo_terms(x, y, x_in)
        distortion = -terms.log_px.mean()
        classification = classification_loss(terms)
        loss = distortion + self.regularizer(terms, ctx) + self.config.alpha * classification
        return {"loss": loss, "distortion": distortion, "rate": terms.kl.sum(1).mean(),
                "classification": classification.detach()}

    def regularizer(self, terms: ElboTerms, ctx: LossContext) -> torch.Tensor:
        """``kl_weight`` x the z rate (with free bits) + the other columns (class term) at weight 1."""
        kl_z = terms.kl[:, self.z_columns]  # (B, Z)
        rest = terms.kl.sum(1).mean() - kl_z.sum(1).mean()
        return ctx.kl_weight * free_bits_kl(kl_z, ctx.free_bits, ctx.free_bits_group) + rest

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable class under q(y | x): ``x (B, *shape)`` -> ``(B,)`` int64."""
        return self.log_qy(x).argmax(-1)


@MODELS.register("m2")
class M2(ClassLatentObjective, CVAE):
    """M2: the conditional VAE with the label as a partly observed latent and a classifier q(y | x)."""

    Config = M2Config
    conditional = False

    def build(self) -> None:
        super().build()
        trunk, features = encoder_body(self.config.net, self.sample_shape)
        self.classifier = nn.Sequential(trunk, nn.Linear(features, self.n_classes))

    @property
    def z_columns(self) -> slice:
        return slice(0, self.latent_dim)

    def log_qy(self, x: torch.Tensor) -> torch.Tensor:
        """log q(y | x): ``(B, *shape)`` -> ``(B, C)``."""
        return torch.log_softmax(self.classifier(x), -1)

    def labels_or_inferred(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """``y`` where given (>= 0), else the classifier's most probable class: ``(B,)``."""
        y_hat = self.classify(x)
        return y_hat if y is None else torch.where(y >= 0, self.check_labels(y.clamp_min(0)), y_hat)

    def posterior_given(self, h: torch.Tensor, y: torch.Tensor) -> DiagonalGaussian:
        """q(z | x, y) from encoder-body features ``h (B, F)`` and valid labels ``y (..., B)``: ``(..., B, Z)``."""
        cond = self.label_vectors(y)  # (..., B, c)
        return DiagonalGaussian(*self.encoder.head_params(h.expand(*y.shape, h.shape[-1]), cond))

    def log_px_given(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p(x | y, z) for ``x (B, *shape)``, ``z (k, B, Z)``, valid ``y (k, B)``: ``(k, B)``."""
        k, b = y.shape
        params = self.decoder(z.flatten(0, 1), self.label_vectors(y.flatten()))  # (k * B, P, *shape)
        return self.likelihood_cls(params, self.likelihood_options).log_prob(repeat_batch(x, k)).view(k, b)

    # --- the interface: labels optional ------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """q(z | x, y), with the classifier's most probable class where ``y`` is missing (None or -1)."""
        return super().encode(x, self.labels_or_inferred(x, y))

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | y, z = mu(x, y)], inferring missing labels: ``(B, *shape)``."""
        return super().reconstruct(x, self.labels_or_inferred(x, y))

    def sample_labels(self, n: int, y: torch.Tensor | int | list | None) -> torch.Tensor:
        """The ``(n,)`` classes to generate: ``y`` (an int or ``n`` labels), else draws from p(y) (uniform)."""
        if y is None:
            return torch.randint(self.n_classes, (n,), device=device_of(self))
        return super().sample_labels(n, y)

    # --- the bounds ------------------------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   x_in: torch.Tensor | None = None) -> ClassTerms:
        """Per-example L(x, y) (labelled) or U(x) (unlabelled) pieces, from all C classes at once; the
        classifier and the encoder read ``x_in`` when given (the denoising criterion)."""
        x_in = x if x_in is None else x_in
        return self.bound_terms(x, y, self.log_qy(x_in), x_in=x_in)

    def bound_terms(self, x: torch.Tensor, y: torch.Tensor | None, log_qy: torch.Tensor, p=None,
                    x_in: torch.Tensor | None = None) -> ClassTerms:
        """:meth:`elbo_terms` with the class posterior ``log_qy (B, C)`` given (M1+M2 computes its own),
        p(z) ``p`` (default :meth:`prior`; M1+M2 passes its own) and the encoder's input ``x_in``."""
        b, c = x.shape[0], self.n_classes
        classes = torch.arange(c, device=x.device)[:, None].expand(c, b)  # (C, B)
        q = self.posterior_given(self.encoder.body(x if x_in is None else x_in), classes)  # (C, B, Z)
        z = q.rsample()  # (C, B, Z)
        return class_terms(self.log_px_given(x, z, classes), q.kl_dims(self.prior() if p is None else p), z, q, log_qy, y)

    def importance_terms(self, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 1,
                         x_in: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """k draws y_i ~ q(y | x) (observed labels kept), z_i ~ q(z | x, y_i).

        Returns ``log_px (k, B)`` = log p(x | y_i, z_i) (+ log p(y) for labelled examples) and
        ``log_ratio (k, B, Z + 1)``: log p(z_i) - log q(z_i | x, y_i) per dimension, then
        log p(y_i) - log q(y_i | x) (0 for labelled examples). The classifier and the encoder read
        ``x_in`` when given.
        """
        x_in = x if x_in is None else x_in
        return self.importance_terms_given(x, y, k, self.log_qy(x_in), x_in=x_in)

    def importance_terms_given(self, x: torch.Tensor, y: torch.Tensor | None, k: int,
                               log_qy: torch.Tensor, p=None,
                               x_in: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`importance_terms` with the class posterior ``log_qy (B, C)``, p(z) ``p`` (default
        :meth:`prior`) and the encoder's input ``x_in`` given."""
        y_k = draw_classes(log_qy, k)  # (k, B)
        labelled = torch.zeros_like(y_k, dtype=torch.bool) if y is None else (y >= 0).expand_as(y_k)
        if y is not None:
            y_k = torch.where(labelled, y.clamp_min(0).expand_as(y_k), y_k)
        q = self.posterior_given(self.encoder.body(x if x_in is None else x_in), y_k)  # (k, B, Z)
        z = q.rsample()  # (k, B, Z)
        log_py = -math.log(self.n_classes)
        log_px = self.log_px_given(x, z, y_k) + labelled * log_py  # (k, B)
        y_ratio = torch.where(labelled, 0.0, log_py - log_qy.gather(1, y_k.T).T)  # (k, B)
        log_ratio_z = (self.prior() if p is None else p).log_prob_dims(z) - q.log_prob_dims(z)  # (k, B, Z)
        return log_px, torch.cat([log_ratio_z, y_ratio[..., None]], -1)


def class_terms(log_px: torch.Tensor, kl: torch.Tensor, z: torch.Tensor, q: DiagonalGaussian,
                log_qy: torch.Tensor, y: torch.Tensor | None) -> ClassTerms:
    """Combine per-class bound pieces into L(x, y) for labelled and U(x) for unlabelled examples.

    Args:
        log_px: ``(C, B)`` log p(x | c, z_c) with z_c ~ q(z | x, c).
        kl: ``(C, B, Z)`` KL(q(z | x, c) || p(z)) per dimension.
        z, q: ``(C, B, Z)`` the samples and posteriors per class.
        log_qy: ``(B, C)`` log q(y | x).
        y: ``(B,)`` labels (-1 unlabelled) or None (all unlabelled).
    Returns :class:`ClassTerms` with ``log_px (B,)`` = -distortion and ``kl (B, Z + 1)`` (the class
    KL last); ``z`` and ``posterior`` are those of the observed, else the most probable, class.
    """
    c, b = log_px.shape
    y = torch.full((b,), -1, dtype=torch.long, device=log_px.device) if y is None else y
    labelled = y >= 0  # (B,)
    pick = torch.where(labelled, y, log_qy.argmax(1))  # (B,)
    at = pick[None, :, None]  # (1, B, 1)
    qy = log_qy.exp().T  # (C, B)
    log_p_y = -math.log(c)
    log_px_u = (qy * log_px).sum(0)  # (B,)
    kl_u = (qy[..., None] * kl).sum(0)  # (B, Z)
    kl_y = (log_qy.exp() * (log_qy - log_p_y)).sum(1)  # (B,) KL(q(y|x) || p(y))
    log_px_l = log_px.gather(0, pick[None])[0] + log_p_y  # (B,)
    kl_l = kl.gather(0, at.expand(1, b, kl.shape[-1]))[0]  # (B, Z)
    kl_all = torch.cat([torch.where(labelled[:, None], kl_l, kl_u),
                        torch.where(labelled, 0.0, kl_y)[:, None]], 1)  # (B, Z + 1)
    z_pick = z.gather(0, at.expand(1, b, z.shape[-1]))[0]  # (B, Z)
    mu, logvar = (t.gather(0, at.expand(1, b, t.shape[-1]))[0] for t in (q.mu, q.logvar))
    return ClassTerms(log_px=torch.where(labelled, log_px_l, log_px_u), kl=kl_all, z=z_pick,
                      posterior=DiagonalGaussian(mu, logvar), log_qy=log_qy, y=y)


def draw_classes(log_qy: torch.Tensor, k: int) -> torch.Tensor:
    """``k`` draws from q(y | x) per example by inverting its CDF at Phi(eps), eps ~ N(0, 1) from
    :func:`~vaekit.distributions.standard_normal` (so evaluation's keyed noise makes them a function
    of example and sample index): ``(B, C)`` -> ``(k, B)``."""
    b = log_qy.shape[0]
    eps = standard_normal((k, b, 1), log_qy.device, log_qy.dtype)
    u = 0.5 * (1 + torch.erf(eps / math.sqrt(2)))  # (k, B, 1) uniform
    cdf = torch.cumsum(log_qy.exp(), -1)  # (B, C)
    return (cdf < u).sum(-1).clamp_max(log_qy.shape[-1] - 1)  # (k, B)
