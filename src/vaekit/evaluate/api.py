"""``vaekit.evaluate(run) -> dict``: every likelihood and latent metric of a trained run in one call."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Iterator

import torch

from ..data import DataConfig, Dataset, Preprocessor, Splits, load_data
from ..device import device_of, resolve_device
from ..errors import ConfigError, DataError
from ..models import VAE
from ..models.usage import ACTIVE_THRESHOLD, active_units
from ..posthoc import POSTHOC_PRIORS, aggregate_prior
from ..run import Run, check_compatible, load_eval_splits, open_run
from .features import ClassifierConfig, feature_classifier, features_of
from .latent_stats import classification_counts, linear_probe, posterior_means, probe_possible
from .likelihood import DEFAULT_BUDGET, elbo_per_example, iw_log_likelihood, model_bpd, model_labels
from .sample_quality import KNN_K, draw_samples, sample_metrics

log = logging.getLogger(__name__)
#: Fraction of the split held out for the probe when the evaluated split is the training split.
PROBE_HOLDOUT = 0.2
#: Keys of the sample-quality section (all None without ``samples``).
SAMPLE_KEYS = ("sample_count", "sample_prior", "sample_fd", "sample_fd_real", "sample_precision", "sample_recall",
               "sample_knn_k", "feature_data", "feature_classifier", "feature_classifier_accuracy")
#: Keys of the importance-sampling section (all None for a model without a density bound).
IW_KEYS = ("nll", "nll_se", "nll_bpd", "iw_samples", "iw_examples", "iw_subset_nelbo", "iw_budget", "iw_seconds",
           "iw_samples_per_second")


def evaluate(run: str | Path | Run, data: str | None = None, split: str = "test", iw_samples: int = 5000,
             iw_examples: int | None = None, weights: str = "best", seed: int = 0,
             budget: int = DEFAULT_BUDGET, batch_size: int = 1000, probe: bool = True,
             probe_max_fit: int = 20000, device: str = "auto", threads: int | None = None,
             samples: int = 0, sample_prior: str = "model", feature_data: str | None = None,
             classifier: ClassifierConfig | None = None) -> dict:
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
        samples: draw this many samples and report their Frechet distance, precision and recall
            against as many examples of the split, in the feature space of a classifier trained on
            labels (:mod:`.sample_quality`); 0 skips it.
        sample_prior: "model" (the model's prior) or "gmm" (the post-hoc mixture of
            :mod:`vaekit.posthoc`, fitted once and cached in the run folder).
        feature_data: labelled data spec for the feature classifier when the run's own data has no
            labels (e.g. ``mnist:PATH`` for binarized MNIST); same sample shape and value range.
        classifier: training settings of the feature classifier (default :class:`ClassifierConfig`;
            its binarization follows the data).

    Returns:
        A JSON-ready dict; the keys are always the same and values that do not apply (bits/dim of
        non-image data, probe metrics of unlabelled data, the classification error of models that do
        not classify) are None. Nats are per example; ``*_se`` are standard errors over examples.
        ``kl_per_dim`` covers every stochastic layer (bottom first); active units,
        ``posterior_mean_variance`` and the probe use ``encode(x).mean`` (the top layer of a
        hierarchical model). What a model's :class:`~vaekit.models.Capabilities` rule out is None:
        the NLL without a density bound, KL per dimension where the rate does not factorize
        (``rate_estimator`` says which), active units of a discrete code; a point-mass posterior is
        evaluated with one importance sample (``iw_samples`` records it). Conditional models (cvae)
        are scored on log p(x | y); semi-supervised ones (m2, m1m2) on log p(x), the labels only
        scoring their classifier (``classification_error`` on the split's labelled examples; their
        KL columns end with the class term).
    """
    _check_counts(iw_samples=iw_samples, iw_examples=iw_examples, budget=budget, batch_size=batch_size,
                  probe_max_fit=probe_max_fit, threads=threads)
    if samples < 0 or sample_prior not in ("model", *POSTHOC_PRIORS):
        raise ConfigError(f"samples must be >= 0 and sample_prior one of model, {', '.join(POSTHOC_PRIORS)}")
    if feature_data is not None and not samples:
        raise ConfigError("feature_data (--feature-data) is read only for sample quality: set samples (--samples N)")
    if not isinstance(run, Run):
        run = open_run(run, weights, resolve_device(device))
    splits = load_eval_splits(run, data)
    ds = splits.get(split)
    check_compatible(run, ds)
    features = _feature_data(run, splits, feature_data) if samples else None  # bad input fails before the work
    t0 = time.perf_counter()
    with _torch_threads(threads):
        out = _header(run, ds, data, split, weights, seed)
        y = model_labels(run.model, ds.y)
        terms = elbo_per_example(run.model, ds.x, y, transform=run.preprocessor, batch_size=batch_size, seed=seed)
        out.update(_elbo_section(terms, run.model))
        out.update(_iw_section(run, ds, terms, iw_samples, iw_examples, seed, budget))
        out.update(_latent_section(run.model, terms))
        out.update(_probe_section(run, splits, ds, split, terms["mu"], probe, probe_max_fit, seed, batch_size))
        out.update(_classification_section(run, ds, batch_size))
        out.update(_sample_section(run, splits, ds, samples, sample_prior, features, seed,
                                   classifier or ClassifierConfig()))
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
    caps = run.model.capabilities
    if not caps.density_bound:
        log.info("model %s has no density bound: NLL left out", run.config.model.name)
        return dict.fromkeys(IW_KEYS)
    if not caps.stochastic_posterior and k > 1:
        log.info("q(z|x) is a point mass: one importance sample gives the bound (not %d)", k)
        k = 1
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


def _latent_section(model: VAE, terms: dict[str, torch.Tensor]) -> dict:
    """Active units (continuous latents), KL per dimension (where the rate factorizes), the model's own
    latent statistics (e.g. VQ-VAE codebook usage) and how the rate was computed."""
    caps = model.capabilities
    au = active_units(terms["mu"], ACTIVE_THRESHOLD) if terms["mu"].shape[0] > 1 and caps.continuous_latent else None
    return {"active_units": None if au is None else au["active_units"], "active_threshold": ACTIVE_THRESHOLD,
            "posterior_mean_variance": None if au is None else au["mean_variance"],
            "kl_per_dim": terms["kl"].mean(0).tolist() if caps.kl_per_dim else None,
            "rate_estimator": "closed form" if caps.kl_per_dim else "Monte Carlo (one sample per example)",
            "prior": model.prior_name, "latent_summary": model.latent_summary(terms["mu"])}


def _classification_section(run: Run, ds: Dataset, batch_size: int) -> dict:
    """Error of the model's own classifier q(y | x) on the labelled examples (models that classify);
    None when ``ds`` has none."""
    wrong, n = classification_counts(run.model, ds.x, ds.y, transform=run.preprocessor, batch_size=batch_size)
    return {"classification_error": wrong / n if n else None, "classification_n": n or None}


def _probe_section(run: Run, splits: Splits, ds: Dataset, split: str, mu: torch.Tensor, enabled: bool,
                   max_fit: int, seed: int, batch_size: int) -> dict:
    """Linear probe of the posterior means: fitted on the training split, scored on ``ds``
    (or, when ``ds`` is the training split, fitted and scored on a seeded 80/20 split of it); labelled
    examples only (label -1 is no class). None when fewer than 2 classes are labelled for the fit or
    no example of ``ds`` is labelled."""
    empty = {"probe_accuracy": None, "probe_chance": None, "probe_n_fit": None, "probe_n_eval": None}
    if not enabled or ds.y is None or splits.train.y is None:
        return empty
    if split == "train":
        fit, held = _probe_holdout(ds.y, max_fit, seed)
        fit_y, eval_y = ds.y[fit], ds.y[held]
    else:
        labelled = (splits.train.y >= 0).nonzero()[:, 0]  # (L,) semi-supervised data: the kept labels only
        fit = labelled[subset_index(len(labelled), max_fit, seed)]
        fit_y, held, eval_y = splits.train.y[fit], slice(None), ds.y
    if not probe_possible(fit_y, eval_y):
        log.info("linear probe left out: fewer than 2 labelled classes to fit, or no labelled example to score")
        return empty
    log.info("linear probe of the posterior means")
    mu_fit = mu[fit] if split == "train" else posterior_means(
        run.model, splits.train.x[fit], model_labels(run.model, fit_y), transform=run.preprocessor,
        batch_size=batch_size)
    result = linear_probe(mu_fit, fit_y, mu[held], eval_y, seed)
    return {"probe_accuracy": result["accuracy"], "probe_chance": result["chance"],
            "probe_n_fit": result["n_fit"], "probe_n_eval": result["n_eval"]}


def _probe_holdout(y: torch.Tensor, max_fit: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded split of the labelled examples of ``y (N,)``: at most ``max_fit`` positions to fit and
    :data:`PROBE_HOLDOUT` of them (at least one) to score."""
    labelled = (y >= 0).nonzero()[:, 0]  # (L,)
    perm = labelled[torch.randperm(len(labelled), generator=torch.Generator().manual_seed(seed))]
    n_eval = max(1, int(len(perm) * PROBE_HOLDOUT))
    return perm[n_eval:][:max_fit], perm[:n_eval]


def _sample_section(run: Run, splits: Splits, ds: Dataset, n: int, prior_kind: str,
                    features: tuple[str, Splits, Preprocessor, bool] | None, seed: int, cfg: ClassifierConfig) -> dict:
    """Frechet distance and precision/recall of ``n`` samples against ``n`` examples of ``ds`` (model
    space), in the features of a classifier trained on labels (``features``: :func:`_feature_data`);
    ``sample_fd_real`` is the distance of ``n`` training examples to the same real ones (the floor at
    this N)."""
    if not n:
        return dict.fromkeys(SAMPLE_KEYS)
    pre, gen = run.preprocessor, torch.Generator().manual_seed(seed)
    real = pre(ds.x[subset_index(len(ds), n, seed)])
    train = pre(splits.train.x[subset_index(len(splits.train), len(real), seed + 1)])
    binary = bool(((real == 0) | (real == 1)).all())
    train = torch.bernoulli(train.clamp(0, 1), generator=gen) if binary and pre.binarize == "dynamic" else train
    classifier = _classifier(features, binary, cfg)
    prior = aggregate_prior(run, seed=seed) if prior_kind == "gmm" else None
    log.info("sample quality: %d samples from %s", n, prior.name if prior else run.model.prior_name)
    fake = draw_samples(run.model, n, seed, None if prior is None else prior.distribution)
    f_real, f_fake, f_train = (features_of(classifier.model, t) for t in (real, fake, train))
    return {**sample_metrics(f_real, f_fake, f_train), "sample_count": n, "sample_knn_k": KNN_K,
            "sample_prior": prior.name if prior else run.model.prior_name, "feature_data": features[0],
            "feature_classifier": str(classifier.path), "feature_classifier_accuracy": classifier.info.get("accuracy")}


def _feature_data(run: Run, splits: Splits, feature_data: str | None) -> tuple[str, Splits, Preprocessor, bool]:
    """The labelled data of the feature classifier, checked before any evaluation work: ``(spec, splits,
    preprocessor, own)``, the run's own data (``own``) or ``feature_data``'s, of the model's sample shape."""
    if feature_data is None:
        if splits.train.y is None:
            raise DataError(f"{run.config.data.spec}: sample quality needs a classifier trained on labels and "
                            "this data has none; name labelled data of the same shape with feature_data "
                            "(--feature-data), e.g. mnist:PATH for binarized MNIST")
        return run.config.data.spec, splits, run.preprocessor, True
    fsplits, pre = load_data(DataConfig(spec=feature_data))
    if fsplits.train.sample_shape != splits.train.sample_shape:
        raise DataError(f"feature data {feature_data}: examples of shape {fsplits.train.sample_shape} do not fit "
                        f"the model's {splits.train.sample_shape}")
    if fsplits.train.y is None:
        raise DataError(f"feature data {feature_data}: it has no labels to train the feature classifier on")
    return feature_data, fsplits, pre, False


def _classifier(features: tuple[str, Splits, Preprocessor, bool], binary: bool, cfg: ClassifierConfig):
    """The feature classifier of :func:`_feature_data`'s data (dynamically binarized when the evaluated
    examples are binary and the data is not the run's own binarized data, so it sees what binary
    samples look like)."""
    spec, fsplits, pre, own = features
    dynamic = binary and (not own or pre.binarize == "dynamic")
    cfg = dataclasses.replace(cfg, binarize="dynamic" if dynamic else "none")
    return feature_classifier(fsplits.train, fsplits.test or fsplits.val, pre, cfg, spec)
