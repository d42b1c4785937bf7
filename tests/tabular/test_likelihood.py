"""The tabular likelihood: known answers per column kind, masking, means and draws."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tests.tabular.helpers import codec_for_width
from vaekit.errors import ConfigError
from vaekit.likelihoods import GAUSSIAN_LOGVAR_RANGE
from vaekit.tabular.codec import TableCodec
from vaekit.tabular.columns import Column
from vaekit.tabular.likelihood import LOGVAR_SHIFT, ColumnLayout, Tabular


def _codec() -> TableCodec:
    """numeric (0) | categorical a/b/c (1-3) | binary (4), with indicators for the numeric (5) and categorical (6)."""
    cols = [Column("h", "numeric", 0, 1, missing=5), Column("c", "categorical", 1, 3, categories=["a", "b", "c"], missing=6),
            Column("s", "binary", 4, 1, categories=["no", "yes"])]
    return TableCodec(columns=cols, missing="mask")


def _lik(params: torch.Tensor) -> Tabular:
    return Tabular(params, {"columns": ColumnLayout.from_codec(_codec())})


def test_log_prob_is_the_sum_of_one_distribution_per_column():
    torch.manual_seed(0)
    params = torch.randn(4, 2, 7)
    x = torch.tensor([[0.3, 0, 1, 0, 1, 0, 0], [-1.2, 1, 0, 0, 0, 0, 0],
                      [2.0, 0, 0, 1, 1, 0, 0], [0.0, 0, 1, 0, 0, 0, 0]])
    lik = _lik(params)
    mu, raw = params[:, 0], params[:, 1]
    lo, hi = GAUSSIAN_LOGVAR_RANGE
    logvar = lo + (hi - lo) * torch.sigmoid(raw[:, 0] + LOGVAR_SHIFT)
    gauss = torch.distributions.Normal(mu[:, 0], torch.exp(0.5 * logvar)).log_prob(x[:, 0])
    cat = (torch.log_softmax(mu[:, 1:4], 1) * x[:, 1:4]).sum(1)
    bern = -F.binary_cross_entropy_with_logits(mu[:, 4], x[:, 4], reduction="none")
    expected = torch.stack([gauss, cat, bern], 1)
    torch.testing.assert_close(lik.log_prob_columns(x), expected)
    torch.testing.assert_close(lik.log_prob(x), expected.sum(1))


def test_missing_cells_add_nothing():
    params = torch.randn(2, 2, 7)
    x = torch.tensor([[0.5, 0, 1, 0, 1, 0, 0], [0.0, 0, 0, 0, 1, 1, 1]])  # row 2: h and c missing
    per_col = _lik(params).log_prob_columns(x)
    assert per_col[1, 0] == 0 and per_col[1, 1] == 0 and per_col[1, 2] != 0
    assert (per_col[0] != 0).all()
    # the numeric value of a missing cell does not matter
    x2 = x.clone()
    x2[1, 0] = 123.0
    torch.testing.assert_close(_lik(params).log_prob(x2), _lik(params).log_prob(x))


def test_mean_and_draws_follow_the_column_distributions():
    params = torch.zeros(20000, 2, 7)
    params[:, 0, 0] = 2.0  # Gaussian mean 2
    params[:, 1, 0] = -30.0  # sigmoid -> log-variance at the lower bound: sd ~ 0.011
    params[:, 0, 1:4] = torch.log(torch.tensor([0.2, 0.5, 0.3]))
    params[:, 0, 4] = math.log(0.25 / 0.75)  # P(yes) = 0.25
    lik = _lik(params)
    mean = lik.mean
    torch.testing.assert_close(mean[0, :5], torch.tensor([2.0, 0.2, 0.5, 0.3, 0.25]), atol=1e-5, rtol=0)
    assert (mean[:, 5:] == 0).all()
    torch.manual_seed(0)
    x = lik.sample()
    assert ((x[:, 1:4] == 0) | (x[:, 1:4] == 1)).all() and (x[:, 1:4].sum(1) == 1).all()
    torch.testing.assert_close(x[:, 1:4].mean(0), torch.tensor([0.2, 0.5, 0.3]), atol=0.015, rtol=0)
    assert abs(x[:, 4].mean().item() - 0.25) < 0.015 and abs(x[:, 0].mean().item() - 2.0) < 0.01


def test_zero_params_mean_unit_variance():
    lik = _lik(torch.zeros(1, 2, 7))
    x = torch.tensor([[1.0, 0, 1, 0, 1, 0, 0]])
    expected = -0.5 * (math.log(2 * math.pi) + 1.0)  # N(1; 0, 1)
    assert lik.log_prob_columns(x)[0, 0].item() == pytest.approx(expected, abs=1e-6)


def test_needs_columns_and_works_for_any_width():
    with pytest.raises(ConfigError, match="needs a table's columns"):
        Tabular.n_params({})
    codec = codec_for_width(23)
    lik = Tabular(torch.randn(3, 2, 23), {"columns": ColumnLayout.from_codec(codec)})
    x = torch.rand(3, 23)
    assert lik.log_prob(x).shape == (3,) and torch.isfinite(lik.log_prob(x)).all()
    torch.testing.assert_close(lik.log_prob_columns(x).sum(1), lik.log_prob(x))
    assert lik.log_prob_columns(x).shape == (3, len(codec.columns))
