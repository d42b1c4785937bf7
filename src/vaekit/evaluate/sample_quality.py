"""Sample quality: Frechet distance and precision/recall of model samples in a classifier's feature space.

* Frechet distance (Heusel et al. 2017, Eq. 6) between Gaussians fitted to the features of real and
  generated examples: ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r^1/2 S_g S_r^1/2)^1/2). The features
  are those of a small classifier trained on the data's labels (:mod:`.features`), so this is an
  "FID" in the MNIST-paper sense only: comparable between models under the same classifier, not with
  Inception-based FIDs. It is biased upwards for small N; compare models at the same N, and read it
  beside the distance between two real sets of that size (``sample_fd_real``).
* Improved precision and recall (Kynkaanniemi et al. 2019, Eq. 1-2): each real feature vector owns a
  ball reaching its k-th nearest real neighbour (k = 3), and precision is the share of generated
  vectors inside some real ball (are samples realistic?); recall swaps the roles (do samples cover the
  data?).
"""

from __future__ import annotations

import numpy as np
import torch

from ..device import evaluating
from ..errors import DataError

#: Nearest neighbour that sets each ball's radius (Kynkaanniemi et al. 2019 use k = 3).
KNN_K = 3


def gaussian_stats(f: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(F,)`` and covariance ``(F, F)`` (ddof 1) of features ``f (N, F)``, float64."""
    x = f.double().cpu().numpy()
    return x.mean(0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """The Frechet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2).

    Tr (cov1 cov2)^1/2 is computed as the sum of square roots of the eigenvalues of the symmetric
    cov1^1/2 cov2 cov1^1/2 (equal to those of cov1 cov2), which needs no general matrix square root.
    """
    w, v = np.linalg.eigh(cov1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # cov1^1/2
    middle = np.linalg.eigvalsh(root1 @ cov2 @ root1)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * trace_root)


def frechet_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets ``(N, F)`` and ``(M, F)``."""
    return frechet_distance(*gaussian_stats(real), *gaussian_stats(fake))


def knn_radii(f: torch.Tensor, k: int = KNN_K, chunk: int = 2048) -> torch.Tensor:
    """Distance of every row of ``f (N, F)`` to its k-th nearest other row: ``(N,)``."""
    if len(f) <= k:
        raise DataError(f"k-nearest-neighbour radii need more than k={k} examples, got {len(f)}")
    out = []
    for start in range(0, len(f), chunk):
        d = torch.cdist(f[start:start + chunk], f)  # (c, N), zero to itself
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2048) -> float:
    """Share of ``points (N, F)`` inside at least one ball (``centres (M, F)``, ``radii (M,)``)."""
    inside = [(torch.cdist(points[s:s + chunk], centres) <= radii).any(1) for s in range(0, len(points), chunk)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = KNN_K) -> dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of ``fake`` against ``real`` features."""
    real, fake = real.double(), fake.double()
    return {"precision": coverage(fake, real, knn_radii(real, k)),
            "recall": coverage(real, fake, knn_radii(fake, k))}


@torch.no_grad()
def draw_samples(model, n: int, seed: int, prior=None, batch_size: int = 500) -> torch.Tensor:
    """``n`` draws x ~ p(x | z), z ~ the prior (or ``prior``), in model space on the CPU: ``(n, *shape)``.

    Conditional models get the classes in turn. The global RNG state is left untouched.
    """
    out = []
    with evaluating(model) as device, torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            y = (torch.arange(start, start + b, device=device) % model.n_classes) if model.conditional else None
            out.append(model.sample(b, y=y, mean=False, prior=prior).cpu())
    return torch.cat(out)


def sample_metrics(real: torch.Tensor, fake: torch.Tensor, baseline: torch.Tensor | None = None) -> dict:
    """Frechet distance, precision and recall of ``fake`` against ``real`` features (and the distance
    between ``baseline`` real features and ``real``, a floor at this N)."""
    out = {"sample_fd": frechet_from_features(real, fake), **{f"sample_{k}": v
                                                             for k, v in precision_recall(real, fake).items()}}
    out["sample_fd_real"] = None if baseline is None else frechet_from_features(real, baseline)
    return out


__all__ = ["KNN_K", "coverage", "draw_samples", "frechet_distance", "frechet_from_features",
           "gaussian_stats", "knn_radii", "precision_recall", "sample_metrics"]
