"""How a model uses its latent dimensions: the KL per dimension and the active units, defined once.

Every report of latent use (evaluate's active units, the traversal and KL figures, the HTML report,
disentanglement) goes through these two functions, so they agree on what "active" means.
"""

from __future__ import annotations

import torch

from ..errors import DataError
from .base import VAE, require

#: Burda et al. 2015 (Sec. 5.2): a unit is active when Cov_x(E_q[z_u | x]) > 0.01.
ACTIVE_THRESHOLD = 0.01


def active_units(mu: torch.Tensor, threshold: float = ACTIVE_THRESHOLD) -> dict:
    """Active units (Burda et al. 2015, Sec. 5.2): A_u = Var_x(E_{q(z|x)}[z_u]) > threshold.

    Args:
        mu: ``(N, Z)`` posterior means E_q[z | x] over N examples (N >= 2).
        threshold: activity threshold (0.01 in the paper).

    Returns:
        ``active_units`` (int), ``active`` (``(Z,)`` bool), ``threshold`` and ``mean_variance`` (the Z
        values of A_u, a list).
    """
    if mu.shape[0] < 2:
        raise DataError("active units need at least 2 examples")
    variance = mu.double().var(0)  # (Z,)
    active = variance > threshold
    return {"active_units": int(active.sum()), "active": active, "threshold": threshold,
            "mean_variance": variance.tolist()}


@torch.no_grad()
def kl_per_dim(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
    """Mean KL(q(z_j | x) || p(z_j)) of each latent dimension over ``x (N, *shape)``: ``(Z,)`` nats.

    Against the model's prior (:meth:`VAE.prior`); needs a rate that factorizes per dimension
    (``capabilities.kl_per_dim``), else a ConfigError.
    """
    require(model, "kl_per_dim", "a KL per latent dimension")
    prior, total = model.prior(), None
    for start in range(0, x.shape[0], batch_size):
        yb = None if y is None else y[start:start + batch_size]
        kl = model.encode(x[start:start + batch_size], yb).kl_dims(prior).sum(0)  # (Z,)
        total = kl if total is None else total + kl
    return total / x.shape[0]
