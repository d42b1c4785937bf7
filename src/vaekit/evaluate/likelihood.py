"""Likelihood evaluation: negative ELBO, its terms, bits/dim."""

from __future__ import annotations

import math

import torch

from ..data import Dataset, Preprocessor, batch_indices
from ..models import VAE


def bits_per_dim(nats: float, n_dims: int) -> float:
    """Convert nats per example to bits per data dimension: nats / (D ln 2)."""
    return nats / (n_dims * math.log(2))


@torch.inference_mode()
def elbo_stats(model: VAE, ds: Dataset, pre: Preprocessor, batch_size: int = 1000,
               device: torch.device | str = "cpu") -> dict[str, float]:
    """One-sample negative ELBO and its terms over a dataset, averaged per example (nats).

    Returns a dict with ``nelbo``, ``rate``, ``distortion`` and ``bpd`` (nelbo in bits/dim).
    """
    was_training = model.training
    model.eval()
    total = torch.zeros(3, dtype=torch.float64)
    for idx in batch_indices(len(ds), batch_size, shuffle=False):
        x = pre(ds.x[idx].to(device))
        y = None if ds.y is None else ds.y[idx].to(device)
        out = model.loss(x, y)
        total += torch.stack([out["nelbo"], out["rate"], out["distortion"]]).double().cpu() * len(idx)
    model.train(was_training)
    nelbo, rate, distortion = (total / len(ds)).tolist()
    return {"nelbo": nelbo, "rate": rate, "distortion": distortion,
            "bpd": bits_per_dim(nelbo, model.n_data_dims)}
