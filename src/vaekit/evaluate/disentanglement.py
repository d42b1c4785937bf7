"""Disentanglement metrics over ground-truth factors, following google-research/disentanglement_lib.

Every metric is a plain function ``metric(sampler, representation_fn, random_state, **options)``
returning a dict of floats:

- ``sampler`` draws factors and renders observations (:class:`FactorSampler`, e.g.
  :class:`vaekit.data.sources.shapes.ShapesSampler`),
- ``representation_fn`` maps a batch of observations to codes ``(B, Z)`` (numpy or torch; for a
  VAE the posterior means, see :func:`representation_from_model`),
- ``random_state`` is a ``numpy.random.Generator``; results are a deterministic function of it.

Factors are the integer indices of the factor values. Default sample counts are those of
disentanglement_lib's ``unsupervised_study_v1`` configs.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Callable, Protocol, Sequence

import numpy as np
import torch

from ..data import Preprocessor
from ..device import evaluating
from ..errors import ConfigError
from ..models import VAE
from ..progress import format_seconds

log = logging.getLogger(__name__)
Representation = Callable[[torch.Tensor], "np.ndarray | torch.Tensor"]
_RENDER_CHUNK = 2048


class FactorSampler(Protocol):
    """Ground-truth data: factor sizes and names, factor draws, observations for given factors."""

    factor_names: Sequence[str]

    @property
    def factor_sizes(self) -> Sequence[int]: ...

    def sample_factors(self, n: int, random_state: np.random.Generator) -> np.ndarray: ...

    def observations(self, factors: np.ndarray) -> torch.Tensor: ...


def representation_from_model(model: VAE, preprocessor: Preprocessor, batch_size: int = 512) -> Representation:
    """Posterior means mu(x) of a trained model as a representation function (stored-format input)."""
    @torch.no_grad()
    def represent(x: torch.Tensor) -> np.ndarray:
        with evaluating(model) as device:
            codes = [model.encode(preprocessor(x[i:i + batch_size].to(device))).mean.cpu()
                     for i in range(0, len(x), batch_size)]
        return torch.cat(codes).double().numpy()  # (B, Z)

    return represent


def encode_factors(sampler: FactorSampler, representation_fn: Representation, factors: np.ndarray) -> np.ndarray:
    """Codes ``(N, Z)`` float64 of the observations rendered for ``factors (N, F)``, in chunks."""
    codes = []
    for start in range(0, len(factors), _RENDER_CHUNK):
        z = representation_fn(sampler.observations(factors[start:start + _RENDER_CHUNK]))
        codes.append(z.detach().cpu().numpy() if isinstance(z, torch.Tensor) else np.asarray(z))
    return np.concatenate(codes).astype(np.float64).reshape(len(factors), -1)


def sample_codes(sampler: FactorSampler, representation_fn: Representation, n: int,
                 random_state: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random factor draws ``(n, F)`` and their codes ``(n, Z)``."""
    factors = sampler.sample_factors(n, random_state)
    return factors, encode_factors(sampler, representation_fn, factors)


def _sklearn_seed(random_state: np.random.Generator) -> int:
    return int(random_state.integers(2**31 - 1))


# --- beta-VAE score ------------------------------------------------------------------------------
def beta_vae_score(sampler: FactorSampler, representation_fn: Representation, random_state: np.random.Generator,
                   batch_size: int = 64, n_train: int = 10_000, n_eval: int = 5_000) -> dict[str, float]:
    """beta-VAE score (Higgins et al. 2017, Sec. 3): accuracy of a linear classifier that names the
    factor held fixed across pairs, from the mean absolute code difference over ``batch_size`` pairs.

    Chance level is ``1 / F``, not 0. The logistic regression is scikit-learn's default (as in
    disentanglement_lib) with up to 1,000 iterations, so it converges on unscaled codes.
    Returns ``train_accuracy`` and ``eval_accuracy``.
    """
    from sklearn.linear_model import LogisticRegression

    x_train, k_train = _beta_vae_points(sampler, representation_fn, random_state, batch_size, n_train)
    x_eval, k_eval = _beta_vae_points(sampler, representation_fn, random_state, batch_size, n_eval)
    clf = LogisticRegression(max_iter=1000, random_state=_sklearn_seed(random_state)).fit(x_train, k_train)
    return {"train_accuracy": float(clf.score(x_train, k_train)), "eval_accuracy": float(clf.score(x_eval, k_eval))}


def _beta_vae_points(sampler, representation_fn, random_state, batch_size: int, n: int):
    """Features ``(n, Z)`` = mean_b |z(x1_b) - z(x2_b)| with factor ``k`` shared by each pair; labels ``(n,)``."""
    f_count = len(sampler.factor_sizes)
    k = random_state.integers(f_count, size=n)  # (n,)
    f1 = sampler.sample_factors(n * batch_size, random_state).reshape(n, batch_size, f_count)
    f2 = sampler.sample_factors(n * batch_size, random_state).reshape(n, batch_size, f_count)
    f2[np.arange(n), :, k] = f1[np.arange(n), :, k]
    z1 = encode_factors(sampler, representation_fn, f1.reshape(-1, f_count)).reshape(n, batch_size, -1)
    z2 = encode_factors(sampler, representation_fn, f2.reshape(-1, f_count)).reshape(n, batch_size, -1)
    return np.abs(z1 - z2).mean(1), k  # (n, Z), (n,)


# --- FactorVAE score -----------------------------------------------------------------------------
def factor_vae_score(sampler: FactorSampler, representation_fn: Representation, random_state: np.random.Generator,
                     batch_size: int = 64, n_train: int = 10_000, n_eval: int = 5_000, n_variance: int = 10_000,
                     prune_threshold: float = 0.05) -> dict[str, float]:
    """FactorVAE score (Kim & Mnih 2018, Sec. 4): majority-vote accuracy of naming the fixed factor by
    the code dimension of least variance (scaled by its global variance) within a batch.

    Dimensions whose global standard deviation is below ``prune_threshold`` (collapsed to the prior)
    are ignored; with none active the score is 0. Chance level is about ``1 / F``.
    Returns ``train_accuracy``, ``eval_accuracy`` and ``n_active_dims``.
    """
    _, z = sample_codes(sampler, representation_fn, n_variance, random_state)
    global_var = z.var(0, ddof=1)  # (Z,)
    active = np.flatnonzero(np.sqrt(global_var) >= prune_threshold)
    if active.size == 0:
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "n_active_dims": 0.0}
    train_votes = _factor_vae_votes(sampler, representation_fn, random_state, batch_size, n_train, global_var, active)
    eval_votes = _factor_vae_votes(sampler, representation_fn, random_state, batch_size, n_eval, global_var, active)
    vote = train_votes.argmax(0)  # (Z,) the factor each dimension predicts
    columns = np.arange(train_votes.shape[1])
    return {"train_accuracy": float(train_votes[vote, columns].sum() / train_votes.sum()),
            "eval_accuracy": float(eval_votes[vote, columns].sum() / eval_votes.sum()),
            "n_active_dims": float(active.size)}


def _factor_vae_votes(sampler, representation_fn, random_state, batch_size: int, n: int,
                      global_var: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Vote counts ``(F, Z)``: (fixed factor, argmin of normalized within-batch variance)."""
    f_count = len(sampler.factor_sizes)
    k = random_state.integers(f_count, size=n)  # (n,)
    factors = sampler.sample_factors(n * batch_size, random_state).reshape(n, batch_size, f_count)
    factors[np.arange(n), :, k] = factors[np.arange(n), :1, k]  # fix factor k within each batch
    z = encode_factors(sampler, representation_fn, factors.reshape(-1, f_count)).reshape(n, batch_size, -1)
    local_var = z.var(1, ddof=1)  # (n, Z)
    argmin = active[np.argmin(local_var[:, active] / global_var[active], axis=1)]  # (n,)
    votes = np.zeros((f_count, len(global_var)), dtype=np.int64)
    np.add.at(votes, (k, argmin), 1)
    return votes


# --- Mutual information gap ----------------------------------------------------------------------
def histogram_discretize(z: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Bin each column of ``z (N, Z)`` into ``n_bins`` equal-width bins over its range: ``(N, Z)`` int."""
    out = np.empty(z.shape, dtype=np.int64)
    for j in range(z.shape[1]):
        edges = np.histogram(z[:, j], n_bins)[1]
        out[:, j] = np.digitize(z[:, j], edges[:-1])
    return out


def discrete_mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information (nats) of two integer label vectors ``(N,)``."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    n_b = b.max() + 1
    joint = np.bincount(a * n_b + b, minlength=(a.max() + 1) * n_b).reshape(-1, n_b) / len(a)
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / outer[nz])).sum())


def mutual_info_matrix(codes: np.ndarray, factors: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """I(z_i; v_k) ``(Z, F)`` in nats, codes discretized into ``n_bins`` histogram bins."""
    binned = histogram_discretize(codes, n_bins)
    return np.array([[discrete_mutual_info(binned[:, i], factors[:, k]) for k in range(factors.shape[1])]
                     for i in range(binned.shape[1])])


def factor_entropy(factors: np.ndarray) -> np.ndarray:
    """H(v_k) ``(F,)`` in nats of the empirical factor distribution."""
    return np.array([discrete_mutual_info(factors[:, k], factors[:, k]) for k in range(factors.shape[1])])


def mig(sampler: FactorSampler, representation_fn: Representation, random_state: np.random.Generator,
        n_train: int = 10_000, n_bins: int = 20) -> dict[str, float]:
    """Mutual information gap (Chen et al. 2018, Eq. 6), discretized as in disentanglement_lib.

    For each factor v_k: (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k), where z_(1), z_(2) are the codes of
    highest and second highest mutual information with v_k, **each factor's own top two** (sorted
    over codes, per factor), normalized by that factor's entropy; then averaged over factors with
    H > 0. Returns ``mig`` and ``mig_<factor name>`` per factor.
    """
    factors, z = sample_codes(sampler, representation_fn, n_train, random_state)
    mi = mutual_info_matrix(z, factors, n_bins)  # (Z, F)
    top = -np.sort(-mi, axis=0)  # (Z, F), descending per factor
    second = top[1] if len(top) > 1 else np.zeros(mi.shape[1])
    h = factor_entropy(factors)  # (F,)
    valid = h > 0
    gaps = np.where(valid, (top[0] - second) / np.where(valid, h, 1.0), 0.0)
    scores = {"mig": float(gaps[valid].mean()) if valid.any() else 0.0}
    scores.update({f"mig_{name}": float(g) for name, g in zip(sampler.factor_names, gaps)})
    return scores


# --- DCI -----------------------------------------------------------------------------------------
def dci(sampler: FactorSampler, representation_fn: Representation, random_state: np.random.Generator,
        n_train: int = 10_000, n_test: int = 5_000, importance: str = "gbt",
        lasso_alpha: float = 0.02) -> dict[str, float]:
    """Disentanglement, completeness, informativeness (Eastwood & Williams 2018, Sec. 2).

    An importance matrix R ``(Z, F)`` comes from one predictor per factor:

    - ``importance="gbt"`` (default, as disentanglement_lib): gradient-boosted tree classifiers
      (scikit-learn defaults, 100 trees per class), R = feature importances, informativeness =
      classification accuracy on train/test codes;
    - ``importance="lasso"`` (as the paper's linear variant; much faster): Lasso regression of the
      standardized factor index on standardized codes, R = |weights|, informativeness = R^2.

    Disentanglement = sum_i rho_i (1 - H_F(P_i.)), completeness = sum_k rho_k (1 - H_Z(P_.k)) with
    P the row/column-normalized R and rho the share of total importance (disentanglement_lib's weights).
    """
    f_train, z_train = sample_codes(sampler, representation_fn, n_train, random_state)
    f_test, z_test = sample_codes(sampler, representation_fn, n_test, random_state)
    if importance == "gbt":
        r, info = _importance_gbt(z_train, f_train, z_test, f_test, _sklearn_seed(random_state))
    elif importance == "lasso":
        r, info = _importance_lasso(z_train, f_train, z_test, f_test, lasso_alpha)
    else:
        raise ConfigError(f"DCI importance must be 'gbt' or 'lasso', got {importance!r}")
    return {"disentanglement": dci_disentanglement(r), "completeness": dci_completeness(r),
            "informativeness_train": info[0], "informativeness_test": info[1]}


def _importance_gbt(z_train, f_train, z_test, f_test, seed: int) -> tuple[np.ndarray, tuple[float, float]]:
    from sklearn.ensemble import GradientBoostingClassifier

    r = np.zeros((z_train.shape[1], f_train.shape[1]))
    acc = np.ones((2, f_train.shape[1]))
    for k in range(f_train.shape[1]):
        if len(np.unique(f_train[:, k])) < 2:
            continue  # a constant factor is trivially predicted and needs no code
        clf = GradientBoostingClassifier(random_state=seed).fit(z_train, f_train[:, k])
        r[:, k] = np.abs(clf.feature_importances_)
        acc[:, k] = clf.score(z_train, f_train[:, k]), clf.score(z_test, f_test[:, k])
    return r, (float(acc[0].mean()), float(acc[1].mean()))


def _importance_lasso(z_train, f_train, z_test, f_test, alpha: float) -> tuple[np.ndarray, tuple[float, float]]:
    from sklearn.linear_model import Lasso

    def standardize(a, ref):
        return (a - ref.mean(0)) / np.maximum(ref.std(0), 1e-12)

    zs_train, zs_test = standardize(z_train, z_train), standardize(z_test, z_train)
    vs_train, vs_test = standardize(f_train.astype(float), f_train), standardize(f_test.astype(float), f_train)
    model = Lasso(alpha=alpha).fit(zs_train, vs_train)  # one regression per factor column
    r = np.abs(model.coef_).T  # (Z, F)
    return r, (float(model.score(zs_train, vs_train)), float(model.score(zs_test, vs_test)))


def _one_minus_entropy(r: np.ndarray, axis: int) -> np.ndarray:
    """1 - H(p) with entropy in base K (K = size of ``axis``) of ``r`` normalized along ``axis``."""
    k = r.shape[axis]
    if k < 2:
        return np.ones(r.shape[1 - axis])
    p = r + 1e-11
    p = p / p.sum(axis, keepdims=True)
    return np.clip(1.0 + (p * np.log(p)).sum(axis) / np.log(k), 0.0, 1.0)


def _importance_share(r: np.ndarray, axis: int) -> np.ndarray:
    total = r.sum()
    share = r.sum(axis) / total if total > 0 else np.full(r.shape[1 - axis], 1.0 / r.shape[1 - axis])
    return share


def dci_disentanglement(r: np.ndarray) -> float:
    """Importance-weighted mean over codes of 1 - H_F(P_i.) for importance matrix ``r (Z, F)``."""
    return float((_one_minus_entropy(r, axis=1) * _importance_share(r, axis=1)).sum())


def dci_completeness(r: np.ndarray) -> float:
    """Importance-weighted mean over factors of 1 - H_Z(P_.k) for importance matrix ``r (Z, F)``."""
    return float((_one_minus_entropy(r, axis=0) * _importance_share(r, axis=0)).sum())


# --- SAP -----------------------------------------------------------------------------------------
def sap(sampler: FactorSampler, representation_fn: Representation, random_state: np.random.Generator,
        n_train: int = 10_000, n_test: int = 5_000, continuous_factors: bool = False) -> dict[str, float]:
    """Separated attribute predictability (Kumar et al. 2018, Sec. 3).

    Score matrix S ``(Z, F)``: for discrete factors (default, as disentanglement_lib's study) the test
    accuracy of a linear SVM (C=0.01, balanced classes) predicting factor k from code i alone; for
    continuous factors the squared correlation. SAP is the mean over factors of the gap between the
    two best codes. Returns ``sap`` and ``sap_<factor name>``.
    """
    f_train, z_train = sample_codes(sampler, representation_fn, n_train, random_state)
    if continuous_factors:
        s = _squared_correlation(z_train, f_train.astype(float))
    else:
        f_test, z_test = sample_codes(sampler, representation_fn, n_test, random_state)
        s = _svm_accuracy(z_train, f_train, z_test, f_test, _sklearn_seed(random_state))
    top = -np.sort(-s, axis=0)  # (Z, F) descending per factor
    gaps = top[0] - (top[1] if len(top) > 1 else 0.0)
    scores = {"sap": float(gaps.mean())}
    scores.update({f"sap_{name}": float(g) for name, g in zip(sampler.factor_names, gaps)})
    return scores


def _squared_correlation(z: np.ndarray, v: np.ndarray) -> np.ndarray:
    """cov(z_i, v_k)^2 / (var z_i var v_k) ``(Z, F)``; 0 where a variance vanishes."""
    zc, vc = z - z.mean(0), v - v.mean(0)
    cov = zc.T @ vc / (len(z) - 1)  # (Z, F)
    var = np.outer(zc.var(0, ddof=1), vc.var(0, ddof=1))
    ok = var > 1e-12
    return np.where(ok, cov**2 / np.where(ok, var, 1.0), 0.0)


def _svm_accuracy(z_train, f_train, z_test, f_test, seed: int) -> np.ndarray:
    from sklearn.svm import LinearSVC

    s = np.zeros((z_train.shape[1], f_train.shape[1]))
    for k in range(f_train.shape[1]):
        if len(np.unique(f_train[:, k])) < 2:
            continue  # nothing to predict: no code is better than another
        for i in range(z_train.shape[1]):
            clf = LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
            clf.fit(z_train[:, i:i + 1], f_train[:, k])
            s[i, k] = clf.score(z_test[:, i:i + 1], f_test[:, k])
    return s


# --- all metrics ---------------------------------------------------------------------------------
METRICS: dict[str, Callable[..., dict[str, float]]] = {
    "beta_vae": beta_vae_score, "factor_vae": factor_vae_score, "mig": mig, "dci": dci, "sap": sap}
#: Options that count sampled points; :func:`compute_metrics` scales their defaults by ``scale``.
COUNT_OPTIONS = ("n_train", "n_eval", "n_test", "n_variance")


def scaled_counts(metric: Callable, scale: float) -> dict[str, int]:
    """The metric's sample-count defaults times ``scale`` (at least 10 each)."""
    params = inspect.signature(metric).parameters
    return {name: max(10, int(round(params[name].default * scale))) for name in COUNT_OPTIONS if name in params}


def compute_metrics(sampler: FactorSampler, representation_fn: Representation, seed: int = 0,
                    names: Sequence[str] | None = None, scale: float = 1.0,
                    options: dict[str, dict] | None = None) -> dict[str, dict[str, float]]:
    """Run the named metrics (default: all), each with its own ``default_rng(seed)`` so a metric's
    scores do not depend on which others run. ``options[name]`` overrides that metric's keywords."""
    out = {}
    for name in names or list(METRICS):
        if name not in METRICS:
            raise ConfigError(f"unknown disentanglement metric {name!r} (choose from: {', '.join(METRICS)})")
        kwargs = {**scaled_counts(METRICS[name], scale), **(options or {}).get(name, {})}
        t0 = time.perf_counter()
        log.info("disentanglement metric %s ...", name)
        out[name] = METRICS[name](sampler, representation_fn, np.random.default_rng(seed), **kwargs)
        log.info("disentanglement metric %s done in %s", name, format_seconds(time.perf_counter() - t0))
    return out
