"""Tables from a trained run: imputation (beats the column means on a low-rank table) and synthesis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import vaekit
from vaekit.errors import ConfigError
from vaekit.latent.tables import impute, impute_draws, label_cells, synthesize

FAST = {"model": {"latent_dim": 2, "net": {"hidden": [32]}}, "train": {"epochs": 60, "batch_size": 64, "lr": 3e-3}}


def low_rank_table(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Six numeric columns driven by two factors (plus 5% noise) and a category set by the first factor."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    x = z @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(n, 6))
    frame = pd.DataFrame(x, columns=[f"v{j}" for j in range(6)])
    frame["kind"] = np.where(z[:, 0] > 0.3, "high", np.where(z[:, 0] < -0.3, "low", "mid"))
    return frame


@pytest.fixture(scope="module")
def masked_run():
    """(run, truth, table with 20% of the numeric cells missing) trained with data.missing: mask."""
    truth = low_rank_table()
    rng = np.random.default_rng(1)
    holes = truth.copy()
    gaps = rng.random((len(truth), 6)) < 0.2
    holes[[f"v{j}" for j in range(6)]] = holes[[f"v{j}" for j in range(6)]].mask(gaps)
    holes.loc[rng.random(len(truth)) < 0.1, "kind"] = None
    cfg = {**FAST, "data": {"missing": "mask", "val_fraction": 0.0}}
    return vaekit.fit(holes, config=cfg), truth, holes, gaps


def test_imputation_beats_the_column_means_on_a_low_rank_table(masked_run):
    run, truth, holes, gaps = masked_run
    filled = impute(run, holes)
    cols = [f"v{j}" for j in range(6)]
    assert filled.notna().all().all()  # every missing cell filled
    kept = ~holes.isna()
    assert (filled[kept] == holes[kept]).sum().sum() == kept.sum().sum()  # observed cells as they were
    sd = truth[cols].std().to_numpy()
    err = ((filled[cols].to_numpy() - truth[cols].to_numpy()) / sd)[gaps]
    mean_err = ((holes[cols].mean().to_numpy() - truth[cols].to_numpy()) / sd)[gaps]
    rmse, mean_rmse = np.sqrt((err ** 2).mean()), np.sqrt((mean_err ** 2).mean())
    assert rmse < 0.5 * mean_rmse, (rmse, mean_rmse)
    missing_kind = holes["kind"].isna()
    accuracy = (filled.loc[missing_kind, "kind"] == truth.loc[missing_kind, "kind"]).mean()
    assert accuracy > 0.7  # the majority class alone gets about 0.4


def test_multiple_imputation_draws_vary_around_the_mean(masked_run):
    run, truth, holes, gaps = masked_run
    draws = impute_draws(run, holes.head(100), 3, seed=0)
    assert len(draws) == 3 and all(d.notna().all().all() for d in draws)
    a, b = draws[0]["v0"].to_numpy(), draws[1]["v0"].to_numpy()
    hole = gaps[:100, 0]
    assert (a[~hole] == b[~hole]).all() and (a[hole] != b[hole]).any()
    again = impute_draws(run, holes.head(100), 3, seed=0)
    assert all(d.equals(e) for d, e in zip(draws, again))  # seeded


def test_synthetic_rows_have_the_columns_types_and_categories(masked_run):
    run, truth, _, _ = masked_run
    rows = synthesize(run, 400, seed=3)
    assert list(rows.columns) == list(truth.columns) and len(rows) == 400
    assert all(rows[c].dtype == np.float64 for c in rows.columns[:6])
    assert set(rows["kind"]) <= {"high", "low", "mid"} and rows["kind"].nunique() == 3
    assert synthesize(run, 50, seed=3).equals(synthesize(run, 50, seed=3))
    corr_real, corr_syn = truth.iloc[:, :6].corr().to_numpy(), rows.iloc[:, :6].corr().to_numpy()
    assert np.abs(corr_real - corr_syn).mean() < 0.2  # the factor structure is reproduced


def test_label_cells_leave_unlabelled_rows_empty():
    y = torch.tensor([2, -1, 0])
    assert label_cells(y, ["cat", "dog", "emu"]) == ["emu", None, "cat"]  # not the last name for -1
    assert label_cells(y, []) == [2, None, 0]


def test_imputation_needs_a_masked_run():
    frame = low_rank_table(120)
    run = vaekit.fit(frame, config={**FAST, "train": {**FAST["train"], "epochs": 1}})
    with pytest.raises(ConfigError, match="data.missing: mask"):
        impute(run, frame)
