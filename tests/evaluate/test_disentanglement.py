"""Known-answer tests of the disentanglement metrics (ground truth ~1, constant/random ~0, mixing lower)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from vaekit.data.sources.shapes import SMALL, ShapesSampler
from vaekit.errors import ConfigError
from vaekit.evaluate import disentanglement as dis

SIZES = (2, 3, 4, 4, 4)  # factors 3 and 4 have equal sizes, so mixing them is symmetric
CHANCE = 1 / len(SIZES)  # floor of the classifier-based scores (beta-VAE, FactorVAE)
FAST = {"beta_vae": {"batch_size": 32, "n_train": 300, "n_eval": 300},
        "factor_vae": {"batch_size": 32, "n_train": 300, "n_eval": 300, "n_variance": 1000},
        "mig": {"n_train": 3000},
        "dci": {"n_train": 500, "n_test": 500},
        "sap": {"n_train": 1000, "n_test": 1000, "continuous_factors": True}}
HEADLINE = {"beta_vae": "eval_accuracy", "factor_vae": "eval_accuracy", "mig": "mig",
            "dci": "disentanglement", "sap": "sap"}


class FactorsAsObservations:
    """Ground-truth data whose observation is the factor vector itself, scaled to [0, 1]."""

    factor_names = ("a", "b", "c", "d", "e")

    def __init__(self, sizes=SIZES) -> None:
        self.factor_sizes = sizes

    def sample_factors(self, n, random_state):
        return np.stack([random_state.integers(k, size=n) for k in self.factor_sizes], axis=1)

    def observations(self, factors):
        return torch.as_tensor(factors / (np.array(self.factor_sizes) - 1), dtype=torch.float64)


def identity(x):
    return x


def constant(x):
    return torch.zeros(len(x), 5)


def mixed(x):
    """Factors d and e rotated into codes 3 and 4: each of those codes mixes both factors."""
    return torch.cat([x[:, :3], x[:, 3:4] + x[:, 4:5], x[:, 3:4] - x[:, 4:5]], dim=1)


def make_random():
    """Codes independent of the data (a fresh seeded stream per metric run)."""
    g = torch.Generator().manual_seed(11)
    return lambda x: torch.randn(len(x), 5, generator=g, dtype=torch.float64)


REPRESENTATIONS = {"identity": lambda: identity, "constant": lambda: constant, "mixed": lambda: mixed,
                   "random": make_random}


@functools.lru_cache(maxsize=None)
def scores(metric: str, representation: str, **override) -> dict[str, float]:
    options = {**FAST[metric], **override}
    fn = REPRESENTATIONS[representation]()
    return dis.METRICS[metric](FactorsAsObservations(), fn, np.random.default_rng(0), **options)


@pytest.mark.parametrize("metric", list(dis.METRICS))
def test_ground_truth_factors_score_near_one(metric):
    out = scores(metric, "identity")
    assert all(isinstance(v, float) for v in out.values())
    assert out[HEADLINE[metric]] >= 0.95
    if metric == "dci":
        assert out["completeness"] >= 0.95 and out["informativeness_test"] >= 0.95


@pytest.mark.parametrize("representation", ["constant", "random"])
@pytest.mark.parametrize("metric", list(dis.METRICS))
def test_constant_and_random_codes_score_near_zero(metric, representation):
    floor = CHANCE if metric in ("beta_vae", "factor_vae") else 0.0
    assert scores(metric, representation)[HEADLINE[metric]] <= floor + 0.1


@pytest.mark.parametrize("metric", list(dis.METRICS))
def test_two_factors_mixed_in_one_code_score_lower_than_identity(metric):
    key = HEADLINE[metric]
    assert scores(metric, "mixed")[key] < scores(metric, "identity")[key] - 0.1


def test_sap_with_discrete_factors_orders_codes_but_stays_below_one():
    """The discrete SAP variant (1-D linear SVMs, disentanglement_lib's study setting) cannot reach 1
    on ordinal factors with several values, but still ranks identity above mixing and constant at 0."""
    ident, mix, const = (scores("sap", rep, continuous_factors=False)["sap"] for rep in ("identity", "mixed", "constant"))
    assert const == 0.0 and mix < ident < 1.0


def test_dci_with_lasso_importance():
    ident = scores("dci", "identity", importance="lasso")
    assert min(ident["disentanglement"], ident["completeness"], ident["informativeness_test"]) >= 0.95
    assert scores("dci", "mixed", importance="lasso")["disentanglement"] < 0.85
    assert scores("dci", "constant", importance="lasso")["disentanglement"] == 0.0


def test_mig_of_half_the_information_is_one_half():
    """Code = factor // 2 for a 4-valued factor carries log 2 of its log 4 nats: gap 0.5."""
    sampler = FactorsAsObservations((4, 4))
    sampler.factor_names = ("a", "b")
    rep = lambda x: torch.stack([torch.div(torch.round(x[:, 0] * 3), 2, rounding_mode="floor"), x[:, 1]], dim=1)  # noqa: E731
    out = dis.mig(sampler, rep, np.random.default_rng(0), n_train=20_000)
    assert out["mig_a"] == pytest.approx(0.5, abs=0.01)
    assert out["mig_b"] == pytest.approx(1.0, abs=0.01)


def test_mig_is_per_factor_and_invariant_to_code_order_and_extra_codes():
    """Guards the transposition bug of disentangling-vae #64: more codes than factors, shuffled."""
    g = torch.Generator().manual_seed(0)
    rep = lambda x: torch.cat([torch.randn(len(x), 3, generator=g, dtype=torch.float64), x], 1)[:, [5, 0, 7, 3, 1, 4, 6, 2]]  # noqa: E731
    assert dis.mig(FactorsAsObservations(), rep, np.random.default_rng(0), n_train=5000)["mig"] >= 0.95


def test_mig_of_a_duplicated_code_is_zero():
    rep = lambda x: torch.cat([x, x], 1)  # noqa: E731
    assert dis.mig(FactorsAsObservations(), rep, np.random.default_rng(0), n_train=2000)["mig"] == pytest.approx(0.0)


def test_discrete_mutual_info_matches_sklearn():
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(0)
    a = rng.integers(5, size=500)
    b = (a + rng.integers(3, size=500)) % 7 + 10
    assert dis.discrete_mutual_info(a, b) == pytest.approx(mutual_info_score(a, b))
    assert dis.discrete_mutual_info(a, a) == pytest.approx(mutual_info_score(a, a))


def test_dci_of_known_importance_matrices():
    assert dis.dci_disentanglement(np.eye(3)) == pytest.approx(1.0)
    assert dis.dci_completeness(np.eye(3)) == pytest.approx(1.0)
    assert dis.dci_disentanglement(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-9)
    one_code_two_factors = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert dis.dci_disentanglement(one_code_two_factors) == pytest.approx(0.0, abs=1e-9)
    assert dis.dci_completeness(one_code_two_factors) == pytest.approx(1.0)
    assert dis.dci_disentanglement(np.zeros((3, 2))) == 0.0


def test_compute_metrics_is_deterministic_and_scales_counts():
    sampler = FactorsAsObservations()
    run = lambda: dis.compute_metrics(sampler, make_random(), seed=3, names=["mig", "factor_vae"], scale=0.05)  # noqa: E731
    assert run() == run()
    assert dis.scaled_counts(dis.factor_vae_score, 0.1) == {"n_train": 1000, "n_eval": 500, "n_variance": 1000}
    with pytest.raises(ConfigError, match="unknown disentanglement metric"):
        dis.compute_metrics(sampler, identity, names=["nope"])
    with pytest.raises(ConfigError, match="importance"):
        dis.dci(sampler, identity, np.random.default_rng(0), n_train=20, n_test=20, importance="forest")


def test_every_metric_runs_on_shapes_images_through_a_model():
    from vaekit.data import Preprocessor
    from vaekit.models import ModelConfig, build_model
    from vaekit.nets import NetConfig

    model = build_model(ModelConfig(latent_dim=3, net=NetConfig(hidden=[16])), (1, 32, 32))
    rep = dis.representation_from_model(model, Preprocessor(), batch_size=64)
    x = ShapesSampler(SMALL).observations(np.array([[0, 1, 2, 3, 4], [2, 3, 9, 15, 0]]))
    assert np.allclose(rep(x), model.encode(x.float()).mean.detach().numpy())
    out = dis.compute_metrics(ShapesSampler(SMALL), rep, seed=0, scale=0.005,
                              options={"dci": {"importance": "lasso"}, "beta_vae": {"batch_size": 8},
                                       "factor_vae": {"batch_size": 8}})
    assert set(out) == set(dis.METRICS)
    assert all(np.isfinite(v) for metric in out.values() for v in metric.values())
