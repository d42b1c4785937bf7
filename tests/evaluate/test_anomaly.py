"""Anomaly detection: metrics against scikit-learn, thresholds, scores with known answers, protocols."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from vaekit.data import DataConfig, Dataset, Preprocessor, load_data
from vaekit.errors import ConfigError, DataError
from vaekit.evaluate.anomaly import (ScoreOptions, compressed_nats, evaluate_scores, one_class_sets,
                                     score_dataset, scores_csv)
from vaekit.evaluate.detection import auprc, auroc, detection_metrics, fpr_at_tpr, validation_threshold

from ..ppca import linear_gaussian_vae

FAST = ScoreOptions(k=50, elbo_samples=2)


# --- metrics ---------------------------------------------------------------------------------------
def fixed_scores(seed, n=300, levels=None):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    s = rng.normal(size=n) + 1.2 * y
    if levels:  # coarse scores: many ties, within and across classes
        s = np.round(s * levels) / levels
    return y.astype(int), s


@pytest.mark.parametrize("seed, levels", [(0, None), (1, None), (2, 2), (3, 1), (4, 5)])
def test_metrics_match_scikit_learn(seed, levels):
    y, s = fixed_scores(seed, levels=levels)
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert fpr_at_tpr(y, s, 0.95) == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-12)
    assert fpr_at_tpr(y, s, 0.5) == pytest.approx(fpr[np.argmax(tpr >= 0.5)], abs=1e-12)


def test_metrics_known_answers():
    y = np.array([0, 0, 0, 1, 1])
    assert detection_metrics(y, [1, 2, 3, 4, 5]) == {"auroc": 1.0, "auprc": 1.0, "fpr95": 0.0}
    assert auroc(y, [5, 4, 3, 2, 1]) == 0.0
    assert auroc(y, np.zeros(5)) == 0.5  # all tied: a coin flip
    assert auprc(y, np.zeros(5)) == pytest.approx(0.4)  # the anomaly rate
    assert fpr_at_tpr(y, [1, 2, 4, 3, 5]) == pytest.approx(1 / 3)  # one normal outranks an anomaly


def test_metrics_reject_one_class_or_nan():
    with pytest.raises(DataError, match="both normal"):
        auroc([0, 0], [1, 2])
    with pytest.raises(DataError, match="NaN"):
        auroc([0, 1], [1, float("nan")])


# --- thresholds ------------------------------------------------------------------------------------
@pytest.mark.parametrize("quantile", [0.9, 0.95, 0.99, 1.0])
@pytest.mark.parametrize("ties", [False, True])
def test_threshold_respects_the_false_positive_rate(quantile, ties):
    rng = np.random.default_rng(0)
    val = rng.normal(size=1000)
    if ties:
        val = np.round(val * 3)
    t = validation_threshold(val, quantile)
    fpr = np.mean(val > t)
    assert fpr <= 1 - quantile + 1e-12
    if not ties:  # as close to the target as the sample allows
        assert fpr >= 1 - quantile - 1 / len(val)
    fresh = rng.normal(size=20000)  # new normal data from the same distribution: close to the target
    if not ties:
        assert abs(np.mean(fresh > t) - (1 - quantile)) < 0.02


def test_threshold_rejects_bad_quantiles():
    for q in (0.0, 1.5):
        with pytest.raises(ConfigError):
            validation_threshold([1.0, 2.0], q)


# --- scores on a model with an analytic likelihood --------------------------------------------------
def ppca_data(n=200, shift=0.0, seed=0):
    model, log_px = linear_gaussian_vae(d=6, k=2, sigma=0.5)
    torch.manual_seed(seed)
    x = model.sample_x(n)  # (n, 6) on the model's plane plus noise
    if shift:
        w = model.decoder.net[0].weight.detach()  # (6, 2)
        off = torch.linalg.qr(torch.cat([w, torch.randn(6, 1, dtype=w.dtype)], 1))[0][:, 2]  # (6,) normal to W
        x = x + shift * off
    return model.float(), log_px, Dataset(x=x.float(), name="ppca")


def test_nll_score_is_the_exact_negative_log_likelihood():
    model, log_px, ds = ppca_data(20)
    nll = score_dataset(model, ds, Preprocessor(), ["nll"], FAST)["nll"]
    np.testing.assert_allclose(nll, -log_px(ds.x.double()).numpy(), atol=1e-3)  # exact posterior: no gap


def test_obvious_anomalies_score_auroc_near_one():
    model, _, normal = ppca_data(200, seed=1)
    _, _, anomalous = ppca_data(200, shift=3.0, seed=2)  # 6 sigma off the data plane
    names = ["nelbo", "nll", "recon", "complexity"]
    s0 = score_dataset(model, normal, Preprocessor(), names, FAST)
    s1 = score_dataset(model, anomalous, Preprocessor(), names, FAST)
    for name in names:
        y = np.r_[np.zeros(200), np.ones(200)]
        assert auroc(y, np.r_[s0[name], s1[name]]) > 0.98, name


def test_likelihood_ratio_against_itself_is_zero_and_needs_a_background():
    model, _, ds = ppca_data(30)
    pre = Preprocessor()
    llr = score_dataset(model, ds, pre, ["llr"], FAST, background=(model, pre))["llr"]
    np.testing.assert_allclose(llr, 0.0, atol=1e-9)  # same seed, same draws, same model
    with pytest.raises(ConfigError, match="background"):
        score_dataset(model, ds, pre, ["llr"], FAST)


def test_scores_are_seeded_and_leave_the_global_rng_alone():
    model, _, ds = ppca_data(30)
    torch.manual_seed(123)
    a = score_dataset(model, ds, Preprocessor(), ["nelbo", "nll"], FAST)
    after = torch.rand(1)
    torch.manual_seed(123)
    b = score_dataset(model, ds, Preprocessor(), ["nelbo", "nll"], FAST)
    assert torch.equal(after, torch.rand(1))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    c = score_dataset(model, ds, Preprocessor(), ["nll"], ScoreOptions(k=50, seed=1))
    assert not np.array_equal(a["nll"], c["nll"])


def test_complexity_is_nll_minus_compressed_length():
    model, _, ds = ppca_data(30)
    s = score_dataset(model, ds, Preprocessor(), ["nll", "complexity"], FAST)
    length = compressed_nats(ds.x, Preprocessor()).numpy()
    np.testing.assert_allclose(s["complexity"], s["nll"] - length)


def test_compressed_length_follows_image_complexity():
    pre = Preprocessor(max_value=255.0)
    flat = torch.full((1, 1, 28, 28), 0.5)
    noise = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    binary = (noise > 0.5).float()
    flat_n, noise_n, binary_n = (compressed_nats(x, pre).item() for x in (flat, noise, binary))
    assert flat_n < binary_n < noise_n
    # 1-bit PNG: 1 bit per pixel, a filter byte per row and ~80 bytes of headers; no 8-bit detour
    assert binary_n < (28 * 28 + 8 * (28 + 90)) * math.log(2)
    assert noise_n > 28 * 28 * 7 * math.log(2)  # 8-bit noise does not compress
    rgb = compressed_nats(torch.rand(2, 3, 8, 8), pre)
    assert rgb.shape == (2,) and (rgb > 0).all()
    vec = compressed_nats(torch.stack([torch.zeros(64), torch.randn(64) * 4]), Preprocessor())
    assert vec[0] < vec[1]


# --- data and protocol -----------------------------------------------------------------------------
def test_class_filter_keeps_split_membership_and_perturb_only_touches_train():
    full, _ = load_data(DataConfig())
    zeros, _ = load_data(DataConfig(classes=[0], perturb=0.2))
    assert set(zeros.train.y.tolist()) == set(zeros.val.y.tolist()) == set(zeros.test.y.tolist()) == {0}
    assert torch.equal(zeros.val.x, full.val.x[full.val.y == 0])  # same validation examples
    assert torch.equal(zeros.test.x, full.test.x[full.test.y == 0])
    changed = (zeros.train.x != full.train.x[full.train.y == 0]).float().mean().item()
    assert 0.1 < changed < 0.2  # 20% replaced, some by the value already there
    with pytest.raises(ConfigError, match="data.perturb"):
        DataConfig(perturb=1.5)


def test_one_class_sets_partition_the_test_split():
    sets = one_class_sets(DataConfig(), [0, 1])
    full, _ = load_data(DataConfig())
    assert set(sets.val.y.tolist()) == {0, 1} and set(sets.normal.y.tolist()) == {0, 1}
    assert 1 not in sets.anomalous.y.tolist() and len(sets.normal) + len(sets.anomalous) == len(full.test)
    with pytest.raises(DataError, match="no normal or no anomalous"):
        one_class_sets(DataConfig(), list(range(10)))


def test_one_class_sets_leave_unlabelled_test_examples_out(tmp_path):
    g = np.random.default_rng(0)
    y_test = np.array([0, -1, 1, 2, -1, 0, 2, 1, -1, 0])
    np.savez(tmp_path / "a.npz", x_train=g.random((30, 4)), y_train=np.arange(30) % 3, x_test=g.random((10, 4)),
             y_test=y_test)
    sets = one_class_sets(DataConfig(spec=f"npz:{tmp_path / 'a.npz'}", val_fraction=0.5), [0])
    assert sets.normal.y.tolist() == [0, 0, 0] and sets.anomalous.y.tolist() == [1, 2, 2, 1]  # the -1 are neither
    assert torch.equal(sets.anomalous.x, torch.from_numpy(np.load(tmp_path / "a.npz")["x_test"][[2, 3, 6, 7]]).float())
    with pytest.raises(ConfigError, match=r"data.classes are labels 0..K-1 \(-1 marks an unlabelled"):
        DataConfig(classes=[0, -1])


def test_evaluate_scores_reports_validation_and_test_rates():
    rng = np.random.default_rng(0)
    val, normal, anomalous = rng.normal(size=500), rng.normal(size=300), rng.normal(3, 1, size=100)
    row = evaluate_scores({"s": val}, {"s": normal}, {"s": anomalous}, quantile=0.9)["s"]
    assert row["val_fpr"] <= 0.1 and abs(row["test_fpr"] - 0.1) < 0.05 and row["test_tpr"] > 0.8
    assert row["auroc"] > 0.95 and set(row) >= {"auprc", "fpr95", "threshold"}


def test_scores_csv_has_index_label_and_one_column_per_score():
    text = scores_csv({"nll": np.array([1.5, 2.0]), "kl": np.array([0.1, 0.2])}, torch.tensor([3, 7]))
    assert text.splitlines() == ["index,label,nll,kl", "0,3,1.5,0.1", "1,7,2.0,0.2"]
    assert scores_csv({"nll": np.array([1.0])}).splitlines()[1] == "0,,1.0"
    assert scores_csv({"nll": np.array([1.0, 2.0])}, torch.tensor([-1, 0])).splitlines()[1:] == ["0,,1.0", "1,0,2.0"]
