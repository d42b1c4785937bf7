"""Post-hoc priors: a density fitted to the aggregate posterior of any trained run.

A VAE's decoder learns from codes of the aggregate posterior q(z) = E_x q(z | x), which need not
fill its prior p(z); prior samples from the holes decode badly. Ghosh et al. 2020 ("From
Variational to Deterministic Autoencoders", Sec. 4, "ex-post density estimation") fit a Gaussian
mixture to the latent codes of the training data after training and sample from it instead. Here:
scikit-learn's ``GaussianMixture`` on the posterior means ``encode(x).mean`` of (a seeded subset of)
the run's training split, 10 components with full covariances by default as in their paper. It
applies to every model with a continuous latent vector (the top layer of a hierarchical model, whose
conditional priors then give the layers below); ``model.sample(n, prior=...)`` draws through it.

The fit is cached in the run folder as ``priors/gmm-K<k>-<covariance>-s<seed>-n<max examples>``:
``.safetensors`` (weights, means, Cholesky factors or log-variances) and ``.json`` (settings, the
SHA-256 of the model weights it was fitted to, the mean log-likelihood of the fit). A later call with
the same settings on the same weights loads it; anything else refits. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import batch_indices, load_data
from .device import device_of, evaluating
from .distributions import FullCovarianceMixture, GaussianMixture
from .errors import CheckpointError, ConfigError
from .io import load_tensors, read_json, save_tensors, write_json
from .models import require
from .run import Run
from .version import __version__

log = logging.getLogger(__name__)
COVARIANCES = ("full", "diag")
#: The one post-hoc density so far (the CLI's ``--prior`` choices besides "model").
POSTHOC_PRIORS = ("gmm",)


@dataclass
class PosthocPrior:
    """A fitted post-hoc prior.

    Attributes:
        distribution: the mixture (``sample``, ``log_prob``, ``mean``, ``stddev``) on the model's device.
        name: a short description for captions.
        path: the cached ``.safetensors`` file.
        fitted: True when fitted by this call, False when loaded from the cache.
        info: the settings and fit facts stored beside it.
    """

    distribution: FullCovarianceMixture | GaussianMixture
    name: str
    path: Path
    fitted: bool
    info: dict


def aggregate_prior(run: Run, n_components: int = 10, covariance: str = "full", max_examples: int = 20000,
                    seed: int = 0, refit: bool = False) -> PosthocPrior:
    """The Gaussian mixture on the run's training posterior means, from the cache or fitted now.

    Args:
        run: a loaded run (any model with a continuous latent).
        n_components: mixture components K. covariance: "full" or "diag".
        max_examples: fit on a seeded random subset of at most this many training examples.
        seed: seed of the subset and of the mixture's initialization.
        refit: fit again even when a matching cache exists.
    """
    require(run.model, "continuous_latent", "a post-hoc prior on the aggregate posterior")
    if covariance not in COVARIANCES:
        raise ConfigError(f"covariance must be one of {', '.join(COVARIANCES)}, got {covariance!r}")
    if n_components < 1 or max_examples < 1:
        raise ConfigError("n_components and max_examples must be at least 1")
    settings = {"kind": "gmm", "n_components": n_components, "covariance": covariance, "seed": seed,
                "max_examples": max_examples, "weights_sha256": weights_digest(run.model)}
    path = run.path / "priors" / f"gmm-K{n_components}-{covariance}-s{seed}-n{max_examples}.safetensors"
    cached = None if refit else _load_cached(path, settings)
    if cached is None:
        mu = training_means(run, max_examples, seed)
        tensors, facts = fit_gmm(mu, n_components, covariance, seed)
        info = {**settings, **facts, "data_spec": run.config.data.spec, "vaekit_version": __version__}
        save_tensors(path, tensors)
        write_json(path.with_suffix(".json"), info)
        log.info("fitted a %d-component GMM on %d posterior means -> %s", n_components, facts["n_fit"], path)
    else:
        tensors, info = cached
    device = device_of(run.model)
    name = f"post-hoc GMM ({n_components} components, {covariance} covariance)"
    return PosthocPrior(_mixture(tensors, device), name, path, cached is None, info)


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's state (names, shapes and bytes): which weights a fit belongs to."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@torch.no_grad()
def training_means(run: Run, max_examples: int, seed: int, batch_size: int = 1000) -> torch.Tensor:
    """Posterior means ``(N, Z)`` of a seeded subset of the run's training split (float64, CPU)."""
    train = load_data(run.config.data)[0].train
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:max_examples].sort().values
    model, means = run.model, []
    with evaluating(model) as device:
        for batch in batch_indices(len(idx), batch_size, shuffle=False):
            rows = idx[batch]
            y = None if train.y is None or not model.conditional else train.y[rows].to(device)
            means.append(model.encode(run.preprocessor(train.x[rows].to(device)), y).mean.double().cpu())
    return torch.cat(means)


def fit_gmm(mu: torch.Tensor, n_components: int, covariance: str, seed: int) -> tuple[dict, dict]:
    """scikit-learn ``GaussianMixture`` on ``mu (N, Z)``: its tensors (float32) and fit facts."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    if len(mu) < n_components:
        raise ConfigError(f"a {n_components}-component mixture needs at least {n_components} examples, got {len(mu)}")
    x = mu.numpy()
    gmm = SkGaussianMixture(n_components, covariance_type=covariance, random_state=seed, max_iter=500).fit(x)
    tensors = {"weights": torch.from_numpy(gmm.weights_).float(), "means": torch.from_numpy(gmm.means_).float()}
    if covariance == "full":
        tensors["scale_tril"] = torch.from_numpy(np.linalg.cholesky(gmm.covariances_)).float()
    else:
        tensors["logvar"] = torch.from_numpy(np.log(gmm.covariances_)).float()
    facts = {"n_fit": len(x), "converged": bool(gmm.converged_), "iterations": int(gmm.n_iter_),
             "mean_log_likelihood": float(gmm.score(x))}
    return tensors, facts


def _load_cached(path: Path, settings: dict) -> tuple[dict, dict] | None:
    """The cached tensors and info when the files exist and were fitted with ``settings``."""
    if not path.is_file() or not path.with_suffix(".json").is_file():
        return None
    try:
        info = read_json(path.with_suffix(".json"))
        if any(info.get(k) != v for k, v in settings.items()):
            return None
        return load_tensors(path), info
    except CheckpointError as exc:
        log.warning("ignoring the cached post-hoc prior (%s); fitting it again", exc)
        return None


def _mixture(tensors: dict, device: torch.device) -> FullCovarianceMixture | GaussianMixture:
    t = {k: v.to(device) for k, v in tensors.items()}
    if "scale_tril" in t:
        return FullCovarianceMixture(t["weights"], t["means"], t["scale_tril"])
    return GaussianMixture(torch.log(t["weights"]), t["means"], t["logvar"])
