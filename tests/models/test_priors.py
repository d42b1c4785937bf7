"""The prior is one part of every model: the training rate and the NLL estimator read the same p(z).

For every registered model (the contract suite's tiny configs), the prior is swapped for a different
one; the training rate (``elbo_terms``) and the importance weights' log-ratio (``importance_terms``,
which the NLL estimator uses) must move together and keep agreeing within their Monte Carlo error.
A model whose training KL were hard-coded against N(0, I) while its NLL read ``prior()`` fails here.
"""

from __future__ import annotations

import pytest
import torch

from vaekit.distributions import DiagonalGaussian
from vaekit.errors import ConfigError
from vaekit.models import LossContext
from vaekit.models.base import repeat_batch

from .test_contract import TINY, make

DRAWS = 400


class ScaledPrior:
    """Another prior for the test: every ``log_prob*`` doubled (not a normalized density, but enough to
    tell which prior a computation read); everything else is the original's."""

    def __init__(self, prior) -> None:
        self.prior = prior

    def __getattr__(self, name: str):
        attr = getattr(self.prior, name)
        if name.startswith("log_prob") and callable(attr):
            return lambda *args: 2 * attr(*args)
        return attr


def other_prior(prior):
    """A shifted diagonal Gaussian for Gaussian priors (the closed-form path), else a scaled prior."""
    if isinstance(prior, DiagonalGaussian):
        mu = prior.mean
        return DiagonalGaussian(torch.full_like(mu, 1.5), torch.full_like(mu, 0.7))
    return ScaledPrior(prior)


def rates(model, x, y):
    """Per-draw training rate and -log-ratio of the importance weights, each ``(S, B)``; the noise is
    seeded so two calls share their draws (common random numbers: a paired difference has no noise
    from the draws of q, only from what the prior changes)."""
    torch.manual_seed(5)
    xs, ys = repeat_batch(x, DRAWS), None if y is None else repeat_batch(y, DRAWS)
    train = model.elbo_terms(xs, ys).kl.sum(1).view(DRAWS, -1)  # (S, B)
    nll = -model.importance_terms(x, y, DRAWS)[1].sum(-1)  # (S, B)
    return train, nll


def mean_se(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard error over draws: ``(S, B)`` -> two ``(B,)``."""
    return t.mean(0), t.std(0) / DRAWS ** 0.5


def assert_agree(a, b, what: str):
    (ma, sa), (mb, sb) = mean_se(a), mean_se(b)
    bound = 5 * (sa ** 2 + sb ** 2).sqrt() + 1e-3
    assert ((ma - mb).abs() <= bound).all(), f"{what}: {ma.tolist()} vs {mb.tolist()} (bound {bound.tolist()})"


@pytest.mark.parametrize("variant", sorted(TINY))
@torch.no_grad()
def test_training_rate_and_nll_estimator_use_one_prior(variant):
    model, x, y = make(variant, "bernoulli", "mlp-image")
    model.eval()
    x = torch.bernoulli(x)
    train, nll = rates(model, x, y)
    assert_agree(train, nll, "own prior")
    swapped = other_prior(model.prior())
    model.prior = lambda: swapped  # the instance attribute shadows the method for both computations
    train2, nll2 = rates(model, x, y)
    assert_agree(train2, nll2, "swapped prior")
    for before, after in ((train, train2), (nll, nll2)):
        moved, se = mean_se(after - before)  # paired over the same draws
        assert (moved.abs() > 10 * se + 0.05).all(), "the rate did not read prior()"


@pytest.mark.parametrize("variant", sorted(TINY))
def test_capability_flags_match_the_rate(variant):
    """kl_per_dim holds exactly when the rate comes per latent dimension."""
    model, x, y = make(variant, "bernoulli", "mlp-image")
    kl = model.elbo_terms(x, y).kl
    assert (kl.shape[1] > 1) == model.capabilities.kl_per_dim
    if not model.capabilities.kl_per_dim:
        with pytest.raises(ConfigError, match="free bits"):
            model.loss(x, y, LossContext(free_bits=0.5))
