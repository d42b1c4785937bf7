"""Sample-quality metrics: known answers for the Frechet distance and precision/recall; the feature
classifier is trained once and cached; ``evaluate(samples=N)`` reports them for any model's prior."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from vaekit.errors import DataError
from vaekit.evaluate import evaluate
from vaekit.evaluate.features import ClassifierConfig, feature_classifier
from vaekit.evaluate.sample_quality import (frechet_distance, frechet_from_features, gaussian_stats, knn_radii,
                                            precision_recall)

FAST = ClassifierConfig(epochs=1, min_steps=60)


def test_frechet_distance_of_identical_sets_is_zero():
    f = torch.randn(500, 6, dtype=torch.float64) @ torch.randn(6, 6, dtype=torch.float64)
    assert abs(frechet_from_features(f, f)) < 1e-8


def test_frechet_distance_of_isotropic_gaussians_is_the_closed_form():
    """N(m1, a^2 I) vs N(m2, b^2 I) in d dimensions: ||m1 - m2||^2 + d (a - b)^2."""
    d, m1, m2 = 5, np.zeros(5), np.full(5, 0.7)
    assert math.isclose(frechet_distance(m1, 4.0 * np.eye(d), m2, 0.25 * np.eye(d)),
                        5 * 0.49 + d * (2.0 - 0.5) ** 2, rel_tol=1e-10)
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(d, d)))[0]  # not diagonal, same answer
    cov1 = rotation @ np.diag([1.0, 2.0, 3.0, 4.0, 5.0]) @ rotation.T
    assert abs(frechet_distance(m1, cov1, m1, cov1)) < 1e-9
    g = torch.Generator().manual_seed(0)  # from samples: within sampling error of the closed form
    x, y = torch.randn(40000, d, generator=g, dtype=torch.float64), torch.randn(40000, d, generator=g, dtype=torch.float64)
    assert abs(frechet_from_features(x, 0.5 * y + 0.7) - (5 * 0.49 + d * 0.25)) < 0.03


def test_precision_and_recall_known_answers():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(600, 4, generator=g)
    assert precision_recall(real, real.clone()) == {"precision": 1.0, "recall": 1.0}
    far = precision_recall(real, real + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0}
    half = precision_recall(real, real[real[:, 0] > 0])  # one half-space of the data: realistic, half the coverage
    assert half["precision"] == 1.0 and 0.45 < half["recall"] < 0.8
    collapsed = precision_recall(real, torch.randn(600, 4, generator=g) * 0.05)  # mode collapse at the centre
    assert collapsed["precision"] > 0.9 and collapsed["recall"] < 0.2
    assert torch.allclose(knn_radii(torch.tensor([[0.0], [1.0], [3.0], [6.0]]), k=1), torch.tensor([1.0, 1.0, 2.0, 3.0]))


def test_gaussian_stats_are_the_sample_moments():
    f = torch.randn(50, 3, dtype=torch.float64)
    mu, cov = gaussian_stats(f)
    np.testing.assert_allclose(mu, f.mean(0).numpy())
    np.testing.assert_allclose(cov, torch.cov(f.T).numpy())


def test_classifier_is_trained_once_and_cached(tmp_path, tiny_run):
    from vaekit.data import load_data

    splits, pre = load_data(tiny_run.config.data)
    first = feature_classifier(splits.train, splits.test, pre, FAST, "digits", tmp_path)
    again = feature_classifier(splits.train, splits.test, pre, FAST, "digits", tmp_path)
    assert not first.cached and again.cached and first.path == again.path
    assert first.path.suffix == ".safetensors" and first.info["accuracy"] > 0.5  # chance is 0.1
    x = pre(splits.test.x[:20])
    torch.testing.assert_close(first.model.features(x), again.model.features(x))
    unlabelled = splits.train.subset(torch.arange(10))
    unlabelled.y = None
    with pytest.raises(DataError, match="labels"):
        feature_classifier(unlabelled, None, pre, FAST, "digits", tmp_path)


def test_evaluate_reports_sample_quality_beside_the_nll(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("VAEKIT_CACHE", str(tmp_path))
    out = evaluate(tiny_run, iw_samples=5, iw_examples=20, probe=False, samples=150, classifier=FAST)
    assert out["sample_count"] == 150 and out["sample_prior"] == "N(0, I)"
    assert out["sample_fd"] > out["sample_fd_real"] >= 0 and 0 <= out["sample_precision"] <= 1
    assert out["nll"] is not None and out["feature_classifier"].startswith(str(tmp_path))
    gmm = evaluate(tiny_run, iw_samples=5, iw_examples=20, probe=False, samples=150, sample_prior="gmm",
                   classifier=FAST)
    assert gmm["sample_prior"].startswith("post-hoc GMM") and gmm["sample_fd"] != out["sample_fd"]
    assert gmm["sample_fd_real"] == out["sample_fd_real"]  # the same real sets and classifier
    none = evaluate(tiny_run, iw_samples=5, iw_examples=20, probe=False)
    assert none["sample_fd"] is None and none["sample_count"] is None


def test_feature_data_is_checked_before_any_evaluation_work(tiny_run, tmp_path, monkeypatch):
    """Feature data without samples is a ConfigError; unlabelled feature data a DataError, both up front."""
    from vaekit.errors import ConfigError

    with pytest.raises(ConfigError, match="--samples"):
        evaluate(tiny_run, feature_data="digits")
    api = sys.modules["vaekit.evaluate.api"]  # (vaekit.evaluate the attribute is the function)
    monkeypatch.setattr(api, "elbo_per_example", lambda *a, **k: pytest.fail("evaluated first"))
    unlabelled = tmp_path / "unlabelled.npy"
    np.save(unlabelled, np.random.default_rng(0).random((60, *tiny_run.model.sample_shape)).astype(np.float32))
    with pytest.raises(DataError, match="labels"):
        evaluate(tiny_run, samples=10, feature_data=f"npy:{unlabelled}")
