"""Statistics of the latent code: linear-probe accuracy, posterior means, and the classification error
of models whose class is a latent variable (``model.classifies``); active units and KL per dimension
are in :mod:`vaekit.models.usage`."""

from __future__ import annotations

import numpy as np
import torch

from ..device import evaluating
from ..errors import DataError
from ..models import VAE
from .likelihood import Transform, batch_to

def linear_probe(z_fit: torch.Tensor, y_fit: torch.Tensor, z_eval: torch.Tensor, y_eval: torch.Tensor,
                 seed: int = 0, max_iter: int = 1000) -> dict:
    """Accuracy of a multinomial logistic regression fitted on ``z_fit`` and scored on held-out ``z_eval``.

    Features are standardized with the fit set's statistics (scikit-learn ``StandardScaler``). Only
    labelled examples take part: an unlabelled one (label -1) is neither fitted nor scored.

    Args:
        z_fit, z_eval: ``(N, Z)`` representations (e.g. posterior means).
        y_fit, y_eval: ``(N,)`` integer labels, -1 for unlabelled examples.

    Returns:
        ``accuracy`` on the labelled eval examples, ``chance`` (the accuracy of always answering their
        most frequent label), and ``n_fit`` / ``n_eval`` (labelled examples fitted / scored). Fewer than
        2 classes among the labelled fit examples, or no labelled eval example, is a DataError
        (:func:`probe_possible` tells beforehand).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    (z_fit_np, y_fit_np), (z_eval_np, y_eval_np) = _labelled(z_fit, y_fit), _labelled(z_eval, y_eval)
    if not probe_possible(y_fit, y_eval):
        raise DataError(f"the linear probe needs at least 2 classes among its {len(y_fit_np)} labelled training "
                        f"examples and a labelled example to score (it has {len(y_eval_np)})")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=seed))
    clf.fit(z_fit_np, y_fit_np)
    accuracy = float(clf.score(z_eval_np, y_eval_np))
    return {"accuracy": accuracy, "chance": float(np.bincount(y_eval_np).max() / len(y_eval_np)),
            "n_fit": len(y_fit_np), "n_eval": len(y_eval_np)}


def probe_possible(y_fit: torch.Tensor, y_eval: torch.Tensor) -> bool:
    """Whether :func:`linear_probe` can run: 2 or more classes among the labelled ``y_fit (N,)`` and a
    labelled example in ``y_eval (M,)``."""
    return len(torch.unique(y_fit[y_fit >= 0])) >= 2 and bool((y_eval >= 0).any())


def _labelled(z: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``z (N, Z)``, ``y (N,)`` -> the labelled rows (``y >= 0``): ``(L, Z)`` float64 and ``(L,)`` int64."""
    keep = (y >= 0).cpu()  # (N,)
    return z.detach().cpu()[keep].double().numpy(), y.detach().cpu()[keep].long().numpy()


@torch.inference_mode()
def posterior_means(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, *,
                    transform: Transform | None = None,
                    batch_size: int = 1000) -> torch.Tensor:
    """E_q[z | x] = ``model.encode(x, y).mean`` for every example: ``(N, *shape) -> (N, Z)`` float64 on CPU."""
    means = []
    with evaluating(model) as device:
        for start in range(0, x.shape[0], batch_size):
            xb, yb = batch_to(x, y, slice(start, start + batch_size), device, transform)
            means.append(model.encode(xb, yb).mean.double().cpu())  # (b, Z)
    return torch.cat(means)


@torch.inference_mode()
def predicted_labels(model: VAE, x: torch.Tensor, *, transform: Transform | None = None,
                     batch_size: int = 1000) -> torch.Tensor:
    """``model.classify(x)`` for every example: ``(N, *shape) -> (N,)`` int64 on CPU."""
    if not model.classifies:
        raise DataError(f"model {model.config.name!r} does not infer classes")
    out = []
    with evaluating(model) as device:
        for start in range(0, x.shape[0], batch_size):
            xb, _ = batch_to(x, None, slice(start, start + batch_size), device, transform)
            out.append(model.classify(xb).cpu())  # (b,)
    return torch.cat(out)


def classification_counts(model: VAE, x: torch.Tensor, y: torch.Tensor | None, *,
                          transform: Transform | None = None, batch_size: int = 1000) -> tuple[int, int]:
    """Wrong answers of the model's classifier q(y | x) and labelled examples scored (``y >= 0``) of
    ``x``; ``(0, 0)`` when the model does not classify or no example is labelled."""
    if not model.classifies or y is None or not bool((y >= 0).any()):
        return 0, 0
    labelled = y >= 0  # (N,)
    pred = predicted_labels(model, x[labelled], transform=transform, batch_size=batch_size)
    return int((pred != y[labelled]).sum()), int(labelled.sum())


def classification_error(model: VAE, x: torch.Tensor, y: torch.Tensor, *, transform: Transform | None = None,
                         batch_size: int = 1000) -> dict:
    """Test error of the model's classifier on the labelled examples (``y >= 0``) of ``x``.

    Returns ``classification_error`` (fraction of wrong labels) and ``classification_n`` (examples scored).
    """
    if not model.classifies:
        raise DataError(f"model {model.config.name!r} does not infer classes")
    wrong, n = classification_counts(model, x, y, transform=transform, batch_size=batch_size)
    if not n:
        raise DataError("the classification error needs labelled examples")
    return {"classification_error": wrong / n, "classification_n": n}
