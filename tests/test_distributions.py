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


def test_monte_carlo_rate_matches_the_closed_form_within_its_standard_error():
    """The per-example log-ratio that models without a closed form use estimates the same KL."""
    from vaekit.distributions import GaussianMixture, log_ratio_dims, rate_dims

    q = DiagonalGaussian(torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]]), torch.tensor([[-0.5, 0.3, -1.2], [0.1, -2.0, 0.4]]))
    p = DiagonalGaussian(torch.tensor([0.2, 0.1, -0.3]), torch.tensor([0.3, -0.2, 0.1]))
    as_mixture = GaussianMixture(torch.zeros(1), p.mu[None], p.logvar[None])  # the same density, no closed form
    z, log_q = q.rsample_with_log_prob(100_000)  # (S, B, Z), (S, B)
    mc = -log_ratio_dims(q, as_mixture, z, log_q)[..., 0]  # (S, B)
    closed = rate_dims(q, p, q.mu).sum(-1)  # (B,)
    se = mc.std(0) / mc.shape[0] ** 0.5
    assert (abs(mc.mean(0) - closed) < 4 * se).all()
    torch.testing.assert_close(log_q, q.log_prob(z))  # the density read off the noise is q's
    one = rate_dims(q, as_mixture, z[0], log_q[0])
    assert one.shape == (2, 1) and torch.equal(rate_dims(q, p, z[0]), q.kl_dims(p))


def test_standard_normal_prior_equals_the_explicit_one():
    from vaekit.distributions import StandardNormal

    q, _ = _random_gaussians()
    p = StandardNormal(4)
    torch.testing.assert_close(q.kl_dims(p), q.kl_dims(DiagonalGaussian.standard((4,))))
    z = torch.randn(3, 5, 4)
    torch.testing.assert_close(p.log_prob(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    torch.manual_seed(0)
    a = p.sample(6, temperature=0.5)
    torch.manual_seed(0)
    torch.testing.assert_close(a, 0.5 * torch.randn(6, 4))


def test_gaussian_mixture_matches_torch_and_its_moments():
    from torch.distributions import Categorical, Independent, MixtureSameFamily

    from vaekit.distributions import GaussianMixture

    logits, mu, logvar = torch.randn(3), torch.randn(3, 2) * 2, torch.randn(3, 2) * 0.5
    mix = GaussianMixture(logits, mu, logvar)
    ref = MixtureSameFamily(Categorical(logits=logits), Independent(Normal(mu, torch.exp(0.5 * logvar)), 1))
    z = torch.randn(4, 7, 2) * 3
    torch.testing.assert_close(mix.log_prob(z), ref.log_prob(z), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(mix.mean, ref.mean)
    torch.testing.assert_close(mix.stddev, ref.stddev)
    draws = mix.sample(200_000)
    assert draws.shape == (200_000, 2)
    torch.testing.assert_close(draws.mean(0), ref.mean, atol=0.03, rtol=0)
    torch.testing.assert_close(draws.std(0), ref.stddev, atol=0.03, rtol=0)
