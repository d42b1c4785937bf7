"""Moving around the latent space: prior samples, reconstructions, interpolations, traversals, arithmetic.

Every function takes a model (any registered VAE; conditional models get labels ``y``), works on the
model's device and returns decoder means ``E[x | z]`` in model space (undo preprocessing for display
with ``Preprocessor.invert``). Samples, traversal centres and scales and the manifold grid come from
the model's own prior (``model.prior()``); what needs a continuous latent vector (interpolation,
traversals, arithmetic) raises a :class:`ConfigError` for models without one (e.g. VQ-VAE).
"""

from __future__ import annotations

import torch

from ..device import device_of
from ..errors import ConfigError, DataError
from ..limits import check_int, check_real
from ..models import VAE, require

INTERPOLATIONS = ("lerp", "slerp")


def generates_by_class(model: VAE) -> bool:
    """Whether the model's decoder takes a class: conditional (cvae) and semi-supervised (m2, m1m2) models."""
    return model.conditional or model.classifies


def labels_for(model: VAE, n: int, label: int | None = None) -> torch.Tensor | None:
    """Labels for ``n`` generated examples: None for models without classes.

    A model that generates by class gets ``label`` for all ``n`` (or the classes in turn, 0, 1, ...,
    when None).
    """
    if not generates_by_class(model):
        if label is not None:
            raise ConfigError(f"--label needs a model with classes (cvae, m2, m1m2); model "
                              f"{model.config.name!r} has none")
        return None
    if label is not None and not 0 <= label < model.n_classes:
        raise ConfigError(f"label must lie in [0, {model.n_classes - 1}], got {label}")
    y = torch.arange(n) % model.n_classes if label is None else torch.full((n,), label)
    return y.to(device_of(model))


@torch.no_grad()
def sample(model: VAE, n: int, label: int | None = None, temperature: float = 1.0,
           mean: bool = True, prior=None) -> torch.Tensor:
    """``n`` samples: z ~ p(z) at temperature T (N(0, T^2 I) for the Gaussian prior), then E[x | z]
    (``mean``, the default as in ``model.sample``) or a draw x ~ p(x | z). ``prior`` replaces the model's
    (e.g. :func:`vaekit.posthoc.fit_aggregate_prior`). Returns ``(n, *shape)``."""
    check_int(n, "the number of samples", 1)
    check_real(temperature, "temperature", 0)
    return model.sample(n, y=labels_for(model, n, label), temperature=temperature, mean=mean, prior=prior)


@torch.no_grad()
def reconstruct(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """E[x | z = mu(x)] for a batch ``x (B, *shape)``: ``(B, *shape)``."""
    return model.reconstruct(x, y)


@torch.no_grad()
def posterior_mean(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """mu(x) = E_q[z | x]: ``(B, Z)``."""
    return model.encode(x, y).mean


@torch.no_grad()
def decode_mean(model: VAE, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """E[x | z] for ``z (..., Z)``: ``(..., *shape)`` (leading dims are flattened and restored)."""
    lead = z.shape[:-1]
    flat = z.reshape(-1, z.shape[-1])  # (M, Z)
    if y is not None and y.numel() == 1:
        y = y.reshape(1).expand(flat.shape[0])
    return model.decode(flat, y).mean.reshape(*lead, *model.sample_shape)


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation (1 - t) z0 + t z1. ``z0, z1 (Z,)``, ``t (S,)`` -> ``(S, Z)``."""
    t = t.to(z0)[:, None]  # (S, 1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016, "Sampling Generative Networks", Sec. 2.1).

    slerp(z0, z1; t) = sin((1 - t) W) / sin W * z0 + sin(t W) / sin W * z1, cos W = <z0, z1> / (|z0| |z1|).
    Follows great circles of the Gaussian prior's typical shell instead of cutting through its low-norm
    centre. Falls back to :func:`lerp` when the vectors are (anti-)parallel. ``(Z,), (Z,), (S,) -> (S, Z)``.
    """
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp_min(eps)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if torch.sin(omega).abs() < eps:
        return lerp(z0, z1, t)
    t = t.to(z0)[:, None]  # (S, 1)
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def interpolate_latent(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "lerp") -> torch.Tensor:
    """``steps`` points from ``z0`` to ``z1`` (endpoints included): ``(steps, Z)``."""
    if method not in INTERPOLATIONS:
        raise ConfigError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {method!r}")
    if steps < 2:
        raise ConfigError(f"interpolation needs at least 2 steps, got {steps}")
    t = torch.linspace(0, 1, steps, device=z0.device)
    return (lerp if method == "lerp" else slerp)(z0, z1, t)


@torch.no_grad()
def interpolate(model: VAE, x0: torch.Tensor, x1: torch.Tensor, steps: int = 10, method: str = "lerp",
                y: torch.Tensor | None = None) -> torch.Tensor:
    """Decode the path between the posterior means of two inputs.

    Args:
        x0, x1: ``(*shape)`` single inputs (model space).
        y: a single label for conditional models (used for encoding both and decoding the path).
    Returns ``(steps, *shape)``; the first and last rows are the reconstructions of ``x0`` and ``x1``.
    """
    require(model, "continuous_latent", "interpolation")
    y1 = None if y is None else y.reshape(1)
    z0 = posterior_mean(model, x0[None], y1)[0]  # (Z,)
    z1 = posterior_mean(model, x1[None], y1)[0]
    return decode_mean(model, interpolate_latent(z0, z1, steps, method), y1)


def kl_order(kl: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
    """Latent dimensions sorted by decreasing KL ``(Z,)``; those not ``active`` (a ``(Z,)`` mask) dropped."""
    order = torch.argsort(kl, descending=True)
    return order if active is None else order[active.to(order.device)[order]]


@torch.no_grad()
def traverse(model: VAE, z0: torch.Tensor, dims: torch.Tensor, values: torch.Tensor,
             y: torch.Tensor | None = None) -> torch.Tensor:
    """Sweep single latent dimensions around ``z0`` (Higgins et al. 2017, Fig. 1 style traversals).

    Args:
        z0: ``(Z,)`` the centre (a posterior mean, or the prior mean).
        dims: ``(R,)`` dimensions to sweep, one row each.
        values: ``(C,)`` values the swept dimension takes, or ``(R, C)``, one row per dimension.
        y: a single label for conditional models.
    Returns ``(R, C, *shape)`` decoder means.
    """
    require(model, "continuous_latent", "latent traversals")
    r, c = len(dims), values.shape[-1]
    z = z0.expand(r, c, z0.shape[-1]).clone()  # (R, C, Z)
    z[torch.arange(r, device=z.device), :, dims.to(z.device)] = values.to(z).expand(r, c)
    return decode_mean(model, z, y)


@torch.no_grad()
def prior_scale(model: VAE) -> tuple[torch.Tensor, torch.Tensor]:
    """The prior's mean and standard deviation per dimension, ``(Z,)`` each (0 and 1 for N(0, I)): the
    centre and unit of traversals and of the manifold grid."""
    require(model, "continuous_latent", "latent traversals")
    prior = model.prior()
    return prior.mean.reshape(-1), prior.stddev.reshape(-1)


def manifold_values(n: int = 15, quantile: float = 0.05) -> torch.Tensor:
    """Gaussian quantiles Phi^-1(linspace(q, 1 - q, n)): an evenly-probable grid axis, ``(n,)``."""
    if n < 2 or not 0 < quantile < 0.5:
        raise ConfigError(f"manifold grid needs n >= 2 and 0 < quantile < 0.5, got n={n}, quantile={quantile}")
    return torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(quantile, 1 - quantile, n))


@torch.no_grad()
def manifold(model: VAE, n: int = 15, quantile: float = 0.05, y: torch.Tensor | None = None) -> torch.Tensor:
    """The learned 2-D manifold (Kingma & Welling 2014, Fig. 4): decode an n x n grid of prior quantiles.

    Row i, column j decodes z = m + s * (v[j], v[n - 1 - i]) with v = :func:`manifold_values` and m, s
    the prior's mean and standard deviation (:func:`prior_scale`; exact Gaussian quantiles for N(0, I)),
    so z1 grows to the right and z2 upwards. Returns ``(n, n, *shape)``; needs exactly 2 latent dimensions.
    """
    if model.latent_dim != 2 or not model.capabilities.continuous_latent:
        kind = "continuous" if model.capabilities.continuous_latent else "discrete-code"
        raise ConfigError(f"the manifold grid needs a 2-D latent space of real numbers, this model has "
                          f"{model.latent_dim} {kind} dimensions")
    m, s = prior_scale(model)
    v = manifold_values(n, quantile).to(device_of(model))
    z = torch.stack([v[None, :].expand(n, n), v.flip(0)[:, None].expand(n, n)], dim=-1)  # (n, n, 2)
    return decode_mean(model, m + s * z, y)


def attribute_vector(mu: torch.Tensor, y: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """Attribute vector mean(mu | label a) - mean(mu | label b) (White 2016, Sec. 2.4; Larsen et al. 2016).

    Args:
        mu: ``(N, Z)`` posterior means.
        y: ``(N,)`` labels (-1: unlabelled, in neither mean).
    Returns ``(Z,)``.
    """
    for label in (a, b):
        if label < 0:
            raise DataError(f"label {label}: the attribute vector takes classes 0..K-1 "
                            "(-1 marks unlabelled examples)")
        if not bool((y == label).any()):
            raise DataError(f"no examples with label {label} to build the attribute vector from")
    return mu[y == a].mean(0) - mu[y == b].mean(0)


@torch.no_grad()
def arithmetic(model: VAE, x: torch.Tensor, vector: torch.Tensor, scales: tuple[float, ...] = (0.0, 1.0),
               y: torch.Tensor | None = None) -> torch.Tensor:
    """Decode mu(x) + s * vector for each scale s: ``x (B, *shape)`` -> ``(S, B, *shape)``.

    Scale 0 is the plain reconstruction ("before"), scale 1 adds the whole vector ("after").
    """
    require(model, "continuous_latent", "latent arithmetic")
    mu = posterior_mean(model, x, y)  # (B, Z)
    s = torch.tensor(scales, device=mu.device, dtype=mu.dtype)
    z = mu[None] + s[:, None, None] * vector.to(mu)  # (S, B, Z)
    yy = None if y is None else y.repeat(len(scales))
    return decode_mean(model, z, yy)


@torch.no_grad()
def analogies(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None,
              classes: torch.Tensor | None = None) -> torch.Tensor:
    """Style fixed, class varied (Kingma et al. 2014, Fig. 1b; Sohn et al. 2015): each input's
    posterior mean z = E[z | x, y] decoded with every class.

    Args:
        x: ``(B, *shape)`` inputs (model space).
        y: ``(B,)`` their labels for encoding; None (or -1 entries) lets a semi-supervised model infer
            them. A conditional model needs them.
        classes: ``(C,)`` classes to decode with (default all).
    Returns ``(B, C, *shape)`` decoder means.
    """
    if not generates_by_class(model):
        raise ConfigError(f"analogies need a model with classes (cvae, m2, m1m2); model {model.config.name!r} has none")
    classes = torch.arange(model.n_classes) if classes is None else classes
    classes = classes.to(device_of(model))
    mu = posterior_mean(model, x, y)  # (B, Z)
    z = mu[:, None].expand(len(x), len(classes), mu.shape[-1])  # (B, C, Z)
    return decode_mean(model, z, classes.repeat(len(x)))
