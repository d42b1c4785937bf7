"""``vaekit.evaluate``: every metric of a trained run in one JSON-ready dict."""

from __future__ import annotations

import json
import math

import pytest

import vaekit
from vaekit.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def result(tiny_run):
    return vaekit.evaluate(tiny_run.path, iw_samples=50, seed=1)


def test_terms_are_consistent(result, tiny_run):
    assert result["nelbo"] == pytest.approx(result["distortion"] + result["rate"])
    assert result["nll"] < result["iw_subset_nelbo"]  # the K-sample bound is tighter than the ELBO
    assert result["nll_se"] > 0 and result["nelbo_se"] > 0
    assert result["nll_bpd"] == pytest.approx(result["nll"] / (64 * math.log(2)))  # 8x8 digits
    assert result["n_examples"] == result["iw_examples"] == tiny_run.info["n_test"]
    assert len(result["kl_per_dim"]) == len(result["posterior_mean_variance"]) == result["latent_dim"] == 4
    assert sum(result["kl_per_dim"]) == pytest.approx(result["rate"])
    variances = result["posterior_mean_variance"]
    assert result["active_units"] == sum(v > result["active_threshold"] for v in variances)
    assert 1 <= result["active_units"]  # a trained model uses some of its 4 dimensions
    assert result["probe_accuracy"] > result["probe_chance"]
    json.dumps(result)  # JSON-ready


def test_same_seed_same_numbers_and_a_run_object_works(result, tiny_run):
    again = vaekit.evaluate(tiny_run, iw_samples=50, seed=1, budget=64 * 50 * 20, batch_size=37)
    for key in ("nll", "nll_se", "nelbo", "rate", "active_units", "probe_accuracy"):
        assert again[key] == pytest.approx(result[key], abs=1e-4), key


def test_nll_subset_and_training_split_probe(tiny_run):
    out = vaekit.evaluate(tiny_run.path, split="train", iw_samples=5, iw_examples=40, probe_max_fit=300)
    assert out["iw_examples"] == 40 and out["n_examples"] == tiny_run.info["n_train"]
    assert out["probe_n_fit"] == 300 and out["probe_n_eval"] == int(out["n_examples"] * 0.2)


def test_mean_se_is_the_mean_and_its_standard_error():
    import torch

    from vaekit.evaluate.api import mean_se

    mean, se = mean_se(torch.tensor([1.0, 2.0, 3.0, 6.0]))
    assert mean == pytest.approx(3.0)
    assert se == pytest.approx(math.sqrt(14 / 3) / 2)  # std with ddof=1 over sqrt(N)
    assert mean_se(torch.tensor([5.0])) == (5.0, 0.0)


def test_bad_requests_are_clear_errors(tiny_run):
    with pytest.raises(ConfigError, match="iw_samples"):
        vaekit.evaluate(tiny_run.path, iw_samples=0)
    with pytest.raises(DataError, match="do not fit"):
        vaekit.evaluate(tiny_run.path, data="shapes:small", iw_samples=2)
