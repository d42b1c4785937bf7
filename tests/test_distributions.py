import torch
from torch.distributions import Normal, kl_divergence

from vaekit.distributions import DiagonalGaussian


def _random_gaussians(b=5, z=4):
    return DiagonalGaussian(torch.randn(b, z), torch.randn(b, z)), DiagonalGaussian(torch.randn(b, z), torch.randn(b, z))


def test_kl_to_standard_normal_matches_torch():
    q, _ = _random_gaussians()
    ref = kl_divergence(Normal(q.mu, q.std), Normal(torch.zeros_like(q.mu), torch.ones_like(q.mu)))
    torch.testing.assert_close(q.kl_dims(), ref)
    torch.testing.assert_close(q.kl(), ref.sum(-1))


def test_kl_between_gaussians_matches_torch():
    q, p = _random_gaussians()
    ref = kl_divergence(Normal(q.mu, q.std), Normal(p.mu, p.std))
    torch.testing.assert_close(q.kl_dims(p), ref)


def test_kl_matches_monte_carlo_estimate():
    q = DiagonalGaussian(torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([[-0.5, 0.3, -1.2]]))
    z = q.rsample(200_000)  # (S, 1, Z)
    mc = (q.log_prob(z) - DiagonalGaussian.standard((1, 3)).log_prob(z)).mean(0)
    se = (q.log_prob(z) - DiagonalGaussian.standard((1, 3)).log_prob(z)).std(0) / 200_000 ** 0.5
    assert abs(float(mc - q.kl())) < 4 * float(se) + 1e-3


def test_log_prob_matches_torch_normal():
    q, _ = _random_gaussians()
    z = torch.randn(3, 5, 4)
    torch.testing.assert_close(q.log_prob(z), Normal(q.mu, q.std).log_prob(z).sum(-1))


def test_gradients_reach_mu_and_logvar_through_the_sample():
    mu = torch.zeros(2, 3, requires_grad=True)
    logvar = torch.zeros(2, 3, requires_grad=True)
    z = DiagonalGaussian(mu, logvar).rsample()
    (z ** 2).sum().backward()
    assert mu.grad is not None and mu.grad.abs().sum() > 0
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_rsample_shapes_and_temperature():
    q = DiagonalGaussian(torch.ones(4, 2), torch.zeros(4, 2))
    assert q.rsample().shape == (4, 2)
    assert q.rsample(7).shape == (7, 4, 2)
    torch.testing.assert_close(q.rsample(temperature=0.0), q.mu)


def test_logvar_is_clamped_to_a_safe_range():
    q = DiagonalGaussian(torch.zeros(1, 2), torch.tensor([[-1e4, 1e4]]))
    assert torch.isfinite(q.kl()).all() and torch.isfinite(q.std).all()
