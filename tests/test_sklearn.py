"""``vaekit.sklearn.VAETransformer``: scikit-learn's estimator checks, Pipeline + GridSearchCV, DataFrames,
anomaly scores, pickling; ``vaekit.fit`` on image arrays."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import vaekit
from vaekit.sklearn import EXPECTED_FAILED_CHECKS, VAETransformer

TINY = {"latent_dim": 2, "hidden": (8,), "epochs": 2}


@parametrize_with_checks([VAETransformer(**TINY)], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_with_grid_search():
    x, y = make_blobs(n_samples=240, n_features=8, centers=3, cluster_std=3.0, random_state=0)
    pipe = Pipeline([("vae", VAETransformer(epochs=20, hidden=(32,), lr=3e-3)),
                     ("clf", LogisticRegression(max_iter=500))])
    search = GridSearchCV(pipe, {"vae__latent_dim": [1, 4]}, cv=2).fit(x, y)
    assert search.best_params_["vae__latent_dim"] in (1, 4) and search.best_score_ > 0.8
    assert search.predict(x[:5]).shape == (5,)
    # alone, GridSearchCV compares held-out ELBOs (VAETransformer.score)
    alone = GridSearchCV(VAETransformer(epochs=10, hidden=(16,)), {"latent_dim": [1, 3]}, cv=2).fit(x)
    assert np.isfinite(alone.best_score_) and alone.best_score_ == max(alone.cv_results_["mean_test_score"])


def _mixed(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    return pd.DataFrame({"size": 10 + 2 * z + 0.2 * rng.normal(size=n), "count": rng.integers(0, 40, n),
                         "colour": np.where(z > 0.5, "red", np.where(z < -0.5, "blue", "green")),
                         "flag": z + 0.3 * rng.normal(size=n) > 0})


def test_dataframes_in_and_out():
    frame = _mixed()
    vae = VAETransformer(latent_dim=2, hidden=(32,), epochs=40, lr=3e-3).fit(frame)
    assert list(vae.feature_names_in_) == list(frame.columns) and vae.n_features_in_ == 4
    z = vae.transform(frame)
    assert z.shape == (300, 2) and z.dtype == np.float64
    back = vae.inverse_transform(z)
    assert list(back.columns) == list(frame.columns) and back["count"].dtype == np.int64
    assert set(back["colour"]) <= {"red", "green", "blue"} and back["flag"].dtype == bool
    assert (back["colour"] == frame["colour"]).mean() > 0.8  # the category is kept in the latent space
    rows = vae.sample(50)
    assert list(rows.columns) == list(frame.columns) and len(rows) == 50
    assert list(vae.get_feature_names_out()) == ["vaetransformer0", "vaetransformer1"]
    with pytest.raises(ValueError, match="'purple' was not seen"):
        vae.transform(frame.assign(colour="purple"))


def test_score_samples_ranks_outliers_below_inliers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)) @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(400, 6))  # a 2-D plane
    vae = VAETransformer(latent_dim=2, hidden=(32,), epochs=40, lr=3e-3).fit(x[:300])
    inliers, outliers = x[300:350], x[350:].copy()
    for j in range(6):  # same marginals, relations broken: off the plane
        outliers[:, j] = rng.permutation(outliers[:, j])
    normal, odd = vae.score_samples(inliers), vae.score_samples(outliers)
    assert np.median(normal) > np.median(odd) and (normal[:, None] > odd[None]).mean() > 0.9
    np.testing.assert_array_equal(vae.score_samples(outliers[::-1])[::-1], odd)  # per row, not per position


def test_pickled_estimator_holds_no_modules_and_transforms_the_same():
    frame = _mixed(120)
    vae = VAETransformer(**TINY).fit(frame)
    blob = pickle.dumps(vae)
    assert b"torch.nn" not in blob and b"vaekit.models" not in blob
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.transform(frame), vae.transform(frame))


def test_fit_in_memory_on_image_arrays():
    from sklearn.datasets import load_digits

    images = load_digits().images.astype(np.uint8)  # (N, 8, 8) in 0..16
    run = vaekit.fit(images, config={"model": {"latent_dim": 3, "net": {"hidden": [32]}}, "train": {"epochs": 2}})
    assert run.path is None and run.info["sample_shape"] == [1, 8, 8] and run.columns is None
    assert run.config.model.likelihood == "gaussian_learned" or run.config.model.likelihood == "bernoulli"
    assert run.model.sample(4).shape == (4, 1, 8, 8) and len(run.info["history"]) == 2
    assert run.info["history"][-1]["val_nelbo"] < run.info["history"][0]["val_nelbo"] + 5
