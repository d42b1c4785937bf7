"""How close synthetic rows are to real ones: marginals, pairwise dependence, and usefulness.

- Per column: the two-sample Kolmogorov-Smirnov statistic of numeric columns (the largest gap between
  the two empirical CDFs) and the total variation distance 0.5 * sum_c |p(c) - q(c)| of categorical
  and binary ones; both lie in [0, 1], 0 for identical marginals.
- Pairs: the mean absolute difference between the real and synthetic Pearson correlation matrices of
  the numeric and binary (0/1) columns, and the mean total variation between the real and synthetic
  joint distributions of each pair of categorical/binary columns ("contingency" distance).
- Usefulness: train on synthetic, test on real (TSTR, Esteban et al. 2017) against train on real,
  test on real (TRTR): the accuracy of the same scikit-learn classifier (one-hot categories, median-
  filled numbers, a 100-tree random forest) predicting a target column on the same real test rows.

Missing cells are left out of each marginal and pair; the classifier fills them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:
    import pandas as pd


def ks_distance(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Two-sample KS statistic sup_t |F_real(t) - F_synthetic(t)| (NaNs left out)."""
    a, b = np.sort(real[~np.isnan(real)]), np.sort(synthetic[~np.isnan(synthetic)])
    if not len(a) or not len(b):
        return math.nan
    grid = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, grid, "right") / len(a) - np.searchsorted(b, grid, "right") / len(b))))


def tv_distance(real: "pd.Series", synthetic: "pd.Series") -> float:
    """Total variation 0.5 * sum_c |p(c) - q(c)| between the value frequencies (missing left out)."""
    p = real.dropna().value_counts(normalize=True)
    q = synthetic.dropna().value_counts(normalize=True)
    if not len(p) or not len(q):
        return math.nan
    return float(0.5 * p.subtract(q, fill_value=0.0).abs().sum())


def column_distances(real: "pd.DataFrame", synthetic: "pd.DataFrame", kinds: dict[str, str]) -> list[dict]:
    """One row per column: ``{name, kind, metric ("KS"/"TV"), distance, real, synthetic}`` where
    ``real``/``synthetic`` summarize the marginal (mean and sd, or the most frequent value and its share)."""
    import pandas as pd

    rows = []
    for name, kind in kinds.items():
        r, s = real[name], synthetic[name]
        if kind == "numeric":
            a, b = pd.to_numeric(r, errors="coerce"), pd.to_numeric(s, errors="coerce")
            rows.append({"name": name, "kind": kind, "metric": "KS", "distance": ks_distance(a.to_numpy(float),
                                                                                              b.to_numpy(float)),
                         "real": _moments(a), "synthetic": _moments(b)})
        else:
            a, b = _as_text(r), _as_text(s)
            rows.append({"name": name, "kind": kind, "metric": "TV", "distance": tv_distance(a, b),
                         "real": _mode(a), "synthetic": _mode(b)})
    return rows


def _as_text(s: "pd.Series") -> "pd.Series":
    """Values as text (so 3 and "3" agree), missing cells NaN."""
    return s.astype(str).where(s.notna())


def _moments(s: "pd.Series") -> str:
    return f"{s.mean():.4g} ± {s.std():.3g}" if s.notna().any() else "-"


def _mode(s: "pd.Series") -> str:
    freq = s.dropna().value_counts(normalize=True)
    return f"{freq.index[0]} ({freq.iloc[0]:.0%})" if len(freq) else "-"


def _codes(frame: "pd.DataFrame", kinds: dict[str, str]) -> "pd.DataFrame":
    """Numeric columns as numbers and binary columns as 0/1 (by sorted value), for correlations."""
    import pandas as pd

    out = {}
    for name, kind in kinds.items():
        if kind == "numeric":
            out[name] = pd.to_numeric(frame[name], errors="coerce")
        elif kind == "binary":
            text = _as_text(frame[name])
            values = sorted(text.dropna().unique())
            out[name] = text.map({v: float(i) for i, v in enumerate(values)})
    return pd.DataFrame(out)


def correlation_difference(real: "pd.DataFrame", synthetic: "pd.DataFrame", kinds: dict[str, str]) -> dict:
    """Mean and largest |corr_real - corr_synthetic| over pairs of numeric/binary columns (Pearson),
    and the number of pairs; NaN when fewer than two such columns."""
    a, b = _codes(real, kinds), _codes(synthetic, kinds)
    if a.shape[1] < 2:
        return {"mean": math.nan, "max": math.nan, "pairs": 0}
    upper = np.triu_indices(a.shape[1], k=1)
    diff = np.abs(a.corr().to_numpy()[upper] - b[a.columns].corr().to_numpy()[upper])
    diff = diff[~np.isnan(diff)]  # constant columns have no correlation
    if not len(diff):
        return {"mean": math.nan, "max": math.nan, "pairs": 0}
    return {"mean": float(diff.mean()), "max": float(diff.max()), "pairs": int(len(diff))}


def contingency_difference(real: "pd.DataFrame", synthetic: "pd.DataFrame", kinds: dict[str, str]) -> dict:
    """Mean total variation between the real and synthetic joint frequencies of each pair of
    categorical/binary columns (SDMetrics' ContingencySimilarity is 1 minus this)."""
    names = [n for n, k in kinds.items() if k != "numeric"]
    tv = []
    for i, u in enumerate(names):
        for v in names[i + 1:]:
            pr = real[[u, v]].dropna().astype(str).value_counts(normalize=True)
            ps = synthetic[[u, v]].dropna().astype(str).value_counts(normalize=True)
            if len(pr) and len(ps):
                tv.append(0.5 * pr.subtract(ps, fill_value=0.0).abs().sum())
    return {"mean": float(np.mean(tv)) if tv else math.nan, "pairs": len(tv)}


def utility(train: "pd.DataFrame", synthetic: "pd.DataFrame", test: "pd.DataFrame", kinds: dict[str, str],
            target: str, seed: int = 0, trees: int = 100) -> dict:
    """TSTR vs TRTR accuracy of a random forest (``trees`` trees) predicting ``target`` from the other columns.

    Returns ``{target, trtr_accuracy, tstr_accuracy, majority_accuracy, n_train, n_synthetic, n_test}``;
    the majority baseline predicts the most frequent real training class.
    """
    features = {n: k for n, k in kinds.items() if n != target}
    if not features:
        raise DataError(f"no columns besides the target {target!r} to predict it from")
    rows = [f for f in (train, synthetic, test) if f[target].notna().any()]
    if len(rows) < 3:
        raise DataError(f"the target column {target!r} is empty in one of the tables")
    y_train, y_syn, y_test = (_as_text(f[target]) for f in (train, synthetic, test))
    keep = y_test.notna().to_numpy()
    trtr = _classifier(features, seed, trees).fit(_x(train, features), y_train.fillna("?")).predict(_x(test, features))
    tstr = _classifier(features, seed, trees).fit(_x(synthetic, features), y_syn.fillna("?")).predict(_x(test, features))
    truth = y_test.to_numpy()[keep]
    majority = y_train.value_counts().index[0]
    return {"target": target, "trtr_accuracy": float(np.mean(trtr[keep] == truth)),
            "tstr_accuracy": float(np.mean(tstr[keep] == truth)), "majority_accuracy": float(np.mean(truth == majority)),
            "n_train": len(train), "n_synthetic": len(synthetic), "n_test": int(keep.sum())}


def _x(frame: "pd.DataFrame", features: dict[str, str]) -> "pd.DataFrame":
    import pandas as pd

    out = frame[list(features)].copy()
    for name, kind in features.items():
        out[name] = pd.to_numeric(out[name], errors="coerce") if kind == "numeric" else \
            _as_text(out[name]).fillna("(missing)")
    return out


def _classifier(features: dict[str, str], seed: int, trees: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = [n for n, k in features.items() if k == "numeric"]
    other = [n for n, k in features.items() if k != "numeric"]
    prep = ColumnTransformer([("num", SimpleImputer(strategy="median", keep_empty_features=True), numeric),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), other)])
    return make_pipeline(prep, RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1))


def fidelity_report(real: "pd.DataFrame", synthetic: "pd.DataFrame", kinds: dict[str, str],
                    train: "pd.DataFrame | None" = None, target: str | None = None, seed: int = 0,
                    trees: int = 100) -> dict:
    """Every measure above in one JSON-ready dict.

    Args:
        real: real rows held out from training (the test split), compared with ``synthetic``.
        synthetic: rows drawn from the model (same columns).
        kinds: ``{column: numeric | categorical | binary}`` of the compared columns.
        train: real training rows for TRTR (None: no usefulness section).
        target: the column the classifier predicts (None: the label, else the last categorical or
            binary column, else no usefulness section).
        trees: trees of the random forest.
    Returns ``{columns, mean_column_distance, correlation, contingency, utility}`` (``utility`` is None
    when there is no target or no training rows).
    """
    columns = column_distances(real, synthetic, kinds)
    distances = [c["distance"] for c in columns if not math.isnan(c["distance"])]
    target = target or next((n for n in reversed(list(kinds)) if kinds[n] != "numeric"), None)
    use = None
    if train is not None and target is not None and target in synthetic.columns:
        use = utility(train, synthetic, real, kinds, target, seed, trees)
    return {"columns": columns, "mean_column_distance": float(np.mean(distances)) if distances else math.nan,
            "correlation": correlation_difference(real, synthetic, kinds),
            "contingency": contingency_difference(real, synthetic, kinds), "utility": use}


def marginals_figure(real: "pd.DataFrame", synthetic: "pd.DataFrame", kinds: dict[str, str], max_columns: int = 12):
    """Real vs synthetic marginal per column (histograms / category bars), at most ``max_columns``."""
    import pandas as pd

    from ..viz import panel_grid

    names = list(kinds)[:max_columns]
    fig, axes = panel_grid(len(names), 4, (3.4, 2.6))
    for ax, name in zip(axes, names):
        if kinds[name] == "numeric":
            a, b = (pd.to_numeric(f[name], errors="coerce").dropna() for f in (real, synthetic))
            lo, hi = np.percentile(np.r_[a, b], [0.5, 99.5]) if len(a) + len(b) else (0, 1)
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 25)
            ax.hist(a.clip(lo, hi), bins, density=True, alpha=0.55, label="real")
            ax.hist(b.clip(lo, hi), bins, density=True, alpha=0.55, label="synthetic")
        else:
            p, q = (_as_text(f[name]).value_counts(normalize=True) for f in (real, synthetic))
            cats = list(p.index[:8])
            pos = np.arange(len(cats))
            ax.bar(pos - 0.2, p.reindex(cats).fillna(0), 0.4, label="real")
            ax.bar(pos + 0.2, q.reindex(cats).fillna(0), 0.4, label="synthetic")
            ax.set_xticks(pos, [str(c)[:8] for c in cats], rotation=45, fontsize=7)
        ax.set_title(f"{name} ({kinds[name]})", fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.suptitle("Marginals: real (held-out) vs synthetic rows")
    fig.tight_layout()
    return fig
