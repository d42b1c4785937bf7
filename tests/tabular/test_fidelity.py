"""Fidelity measures: known answers for the distances, correlations and TSTR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from vaekit.tabular.fidelity import (contingency_difference, correlation_difference, fidelity_report, ks_distance,
                                     tv_distance, utility)


def test_ks_matches_scipy_and_its_extremes():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(0.5, 1.2, size=200)
    assert ks_distance(a, b) == pytest.approx(ks_2samp(a, b).statistic)
    assert ks_distance(a, a.copy()) == 0.0
    assert ks_distance(np.array([1.0, 2.0]), np.array([5.0, 6.0])) == 1.0
    assert ks_distance(np.array([1.0, np.nan]), np.array([1.0])) == 0.0


def test_tv_known_answers():
    assert tv_distance(pd.Series(list("aabb")), pd.Series(list("abab"))) == 0.0
    assert tv_distance(pd.Series(list("aaaa")), pd.Series(list("bbbb"))) == 1.0
    assert tv_distance(pd.Series(list("aaab")), pd.Series(list("abbb"))) == pytest.approx(0.5)


def test_correlation_and_contingency_differences():
    rng = np.random.default_rng(1)
    u = rng.normal(size=500)
    real = pd.DataFrame({"a": u, "b": u + 0.1 * rng.normal(size=500), "c": np.where(u > 0, "y", "n"),
                         "d": np.where(u > 0.5, "p", "q")})
    kinds = {"a": "numeric", "b": "numeric", "c": "binary", "d": "binary"}
    same = correlation_difference(real, real, kinds)
    assert same["mean"] == 0.0 and same["pairs"] == 6
    shuffled = pd.DataFrame({c: real[c].sample(frac=1, random_state=i).to_numpy() for i, c in enumerate(real)})
    far = correlation_difference(real, shuffled, kinds)
    r = real[["a", "b"]].corr().iloc[0, 1]
    assert far["max"] == pytest.approx(r, abs=0.1) and far["mean"] > 0.4
    assert contingency_difference(real, real, kinds)["mean"] == 0.0
    assert contingency_difference(real, shuffled, kinds)["mean"] > 0.15


def test_tstr_equals_trtr_for_a_copy_and_fails_for_noise():
    rng = np.random.default_rng(2)
    n = 400
    x = rng.normal(size=(n, 2))
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "y": np.where(x[:, 0] + x[:, 1] > 0, "pos", "neg")})
    kinds = {"x0": "numeric", "x1": "numeric", "y": "binary"}
    train, test = frame.iloc[:300], frame.iloc[300:]
    copy = utility(train, train, test, kinds, "y", trees=20)
    assert copy["trtr_accuracy"] == copy["tstr_accuracy"] > 0.85
    noise = train.assign(y=rng.permutation(train["y"].to_numpy()))
    assert utility(train, noise, test, kinds, "y", trees=20)["tstr_accuracy"] < 0.7
    report = fidelity_report(test, train, kinds, train=train, trees=20)
    assert report["utility"]["target"] == "y" and report["columns"][0]["metric"] == "KS"
    assert report["mean_column_distance"] < 0.2
