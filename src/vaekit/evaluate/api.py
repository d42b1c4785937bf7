"""``vaekit.evaluate(run) -> dict``: every likelihood and latent metric of a trained run in one call."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path
from typing import Iterator

import torch

from ..data import Dataset, Splits
from ..device import device_of, resolve_device
from ..errors import ConfigError
from ..models import VAE
from ..models.usage import ACTIVE_THRESHOLD, active_units
from ..run import Run, check_compatible, load_eval_splits, open_run
from .latent_stats import classification_error, linear_probe, posterior_means
from .likelihood import DEFAULT_BUDGET, elbo_per_example, iw_log_likelihood, model_bpd, model_labels

log = logging.getLogger(__name__)
#: Fraction of the split held out for the probe when the evaluated split is the training split.
PROBE_HOLDOUT = 0.2


def evaluate(run: str | Path | Run, data: str | None = None, split: str = "test", iw_samples: int = 5000,
             iw_examples: int | None = None, weights: str = "best", seed: int = 0,
             budget: int = DEFAULT_BUDGET, batch_size: int = 1000, probe: bool = True,
             probe_max_fit: int = 20000, device: str = "auto", threads: int | None = None) -> dict:
    """Evaluate a trained run on one data split.

    Args:
        run: a run directory or a loaded :class:`~vaekit.run.Run`.
        data: data spec to evaluate on instead of the run's own (same sample shape; the run's
            preprocessing and binarization settings apply).
        split: "train", "val" or "test".
        iw_samples: K importance samples per example for the NLL (Burda et al. 2015, Eq. 8).
        iw_examples: evaluate the NLL on a seeded random subset of this many examples (None: all);
            the other metrics always use the whole split.
        weights: "best" (validation) or "last" weights, when ``run`` is a path.
        seed: seed of every random draw (importance samples, subsets, probe).
        budget: elements per ``log_weights`` call (examples x samples x data dims), bounding memory.
        batch_size: examples per call of the ELBO and encoder passes.
        probe: fit the linear probe when the data is labelled.
        probe_max_fit: most training examples the probe is fitted on (seeded subset).
        device: "auto", "cpu" or "cuda[:N]" when ``run`` is a path.
        threads: torch CPU threads for the call (None: torch's default, all physical cores).

    Returns:
        A JSON-ready dict; the keys are always the same and values that do not apply (bits/dim of
        non-image data, probe metrics of unlabelled data, the classification error of models that do
        not classify) are None. Nats are per example; ``*_se`` are standard errors over examples.
        ``kl_per_dim`` covers every stochastic layer (bottom first); active units,
        ``posterior_mean_variance`` and the probe use ``encode(x).mean`` (the top layer of a
        hierarchical model). Conditional models (cvae) are scored on log p(x | y); semi-supervised
        ones (m2, m1m2) on log p(x), the labels only scoring their classifier
        (``classification_error`` on the split's labelled examples; their KL columns end with the
        class term).
    """
    _check_counts(iw_samples=iw_samples, iw_examples=iw_examples, budget=budget, batch_size=batch_size,
                  probe_max_fit=probe_max_fit, threads=threads)
    if not isinstance(run, Run):
        run = open_run(run, weights, resolve_device(device))
    splits = load_eval_splits(run, data)
    ds = splits.get(split)
    check_compatible(run, ds)
    t0 = time.perf_counter()
    with _torch_threads(threads):
        out = _header(run, ds, data, split, weights, seed)
        y = model_labels(run.model, ds.y)
        terms = elbo_per_example(run.model, ds.x, y, transform=run.preprocessor, batch_size=batch_size, seed=seed)
        out.update(_elbo_section(terms, run.model))
        out.update(_iw_section(run, ds, terms, iw_samples, iw_examples, seed, budget))
        out.update(_latent_section(terms))
        out.update(_probe_section(run, splits, ds, split, terms["mu"], probe, probe_max_fit, seed, batch_size))
        out.update(_classification_section(run, ds, batch_size))
    out["seconds"] = time.perf_counter() - t0
    return out


def _check_counts(**counts: int | None) -> None:
    for name, value in counts.items():
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def mean_se(values: torch.Tensor) -> tuple[float, float]:
    """Mean and its standard error over examples, std(ddof=1) / sqrt(N) (0 for one example)."""
    n = values.numel()
    se = float(values.std() / math.sqrt(n)) if n > 1 else 0.0
    return float(values.mean()), se


def subset_index(n: int, m: int | None, seed: int) -> torch.Tensor:
    """A seeded random subset of ``m`` of ``range(n)`` in increasing order (all when m is None or >= n)."""
    if m is None or m >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:m].sort().values


def _header(run: Run, ds: Dataset, data: str | None, split: str, weights: str, seed: int) -> dict:
    return {"run": str(run.path), "weights": weights, "model": run.config.model.name,
            "data": data or run.config.data.spec, "split": split, "n_examples": len(ds),
            "latent_dim": run.model.latent_dim, "seed": seed, "threads": torch.get_num_threads(),
            "device": str(device_of(run.model)),
            "discrete_likelihood": bool(run.model.likelihood_cls.discrete)}


def _elbo_section(terms: dict[str, torch.Tensor], model: VAE) -> dict:
    rate = terms["kl"].sum(1)  # (N,)
    nelbo, nelbo_se = mean_se(rate - terms["log_px"])
    return {"nelbo": nelbo, "nelbo_se": nelbo_se, "distortion": float(-terms["log_px"].mean()),
            "rate": float(rate.mean()), "nelbo_bpd": model_bpd(model, nelbo)}


def _iw_section(run: Run, ds: Dataset, terms: dict[str, torch.Tensor], k: int, m: int | None,
                seed: int, budget: int) -> dict:
    idx = subset_index(len(ds), m, seed)
    y = model_labels(run.model, None if ds.y is None else ds.y[idx])
    log.info("importance-sampled NLL: K=%d on %d examples", k, len(idx))
    t0 = time.perf_counter()
    log_px = iw_log_likelihood(run.model, ds.x[idx], y, k, transform=run.preprocessor, seed=seed, budget=budget)
    seconds = time.perf_counter() - t0
    nll, nll_se = mean_se(-log_px)
    log.info("NLL %.2f ± %.2f nats in %.1f s", nll, nll_se, seconds)
    subset_nelbo = float((terms["kl"][idx].sum(1) - terms["log_px"][idx]).mean())
    return {"nll": nll, "nll_se": nll_se, "nll_bpd": model_bpd(run.model, nll), "iw_samples": k, "iw_examples": len(idx),
            "iw_subset_nelbo": subset_nelbo, "iw_budget": budget, "iw_seconds": seconds,
            "iw_samples_per_second": k * len(idx) / max(seconds, 1e-9)}


def _latent_section(terms: dict[str, torch.Tensor]) -> dict:
    au = active_units(terms["mu"], ACTIVE_THRESHOLD) if terms["mu"].shape[0] > 1 else None
    return {"active_units": None if au is None else au["active_units"], "active_threshold": ACTIVE_THRESHOLD,
            "posterior_mean_variance": None if au is None else au["mean_variance"],
            "kl_per_dim": terms["kl"].mean(0).tolist()}


def _classification_section(run: Run, ds: Dataset, batch_size: int) -> dict:
    """Error of the model's own classifier q(y | x) on the labelled examples (models that classify)."""
    if not run.model.classifies or ds.y is None:
        return {"classification_error": None, "classification_n": None}
    return classification_error(run.model, ds.x, ds.y, transform=run.preprocessor, batch_size=batch_size)


def _probe_section(run: Run, splits: Splits, ds: Dataset, split: str, mu: torch.Tensor, enabled: bool,
                   max_fit: int, seed: int, batch_size: int) -> dict:
    """Linear probe of the posterior means: fitted on the training split, scored on ``ds``
    (or, when ``ds`` is the training split, fitted and scored on a seeded 80/20 split of it)."""
    empty = {"probe_accuracy": None, "probe_chance": None, "probe_n_fit": None, "probe_n_eval": None}
    if not enabled or ds.y is None or splits.train.y is None:
        return empty
    log.info("linear probe of the posterior means")
    if split == "train":
        labelled = (ds.y >= 0).nonzero()[:, 0]  # (L,)
        perm = labelled[torch.randperm(len(labelled), generator=torch.Generator().manual_seed(seed))]
        n_eval = max(1, int(len(perm) * PROBE_HOLDOUT))
        fit, held = perm[n_eval:][:max_fit], perm[:n_eval]
        result = linear_probe(mu[fit], ds.y[fit], mu[held], ds.y[held], seed)
    else:
        labelled = (splits.train.y >= 0).nonzero()[:, 0]  # (L,) semi-supervised data: the kept labels only
        idx = labelled[subset_index(len(labelled), max_fit, seed)]
        fit_y = splits.train.y[idx]
        mu_fit = posterior_means(run.model, splits.train.x[idx], model_labels(run.model, fit_y),
                                 transform=run.preprocessor, batch_size=batch_size)
        result = linear_probe(mu_fit, fit_y, mu, ds.y, seed)
    return {"probe_accuracy": result["accuracy"], "probe_chance": result["chance"],
            "probe_n_fit": result["n_fit"], "probe_n_eval": result["n_eval"]}
