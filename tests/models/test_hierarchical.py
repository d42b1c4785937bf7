"""Ladder VAE: residual (NVAE), precision-weighted (LVAE) and direct posteriors, per-layer KL against the conditional prior, exact
importance weights on a linear-Gaussian hierarchy, ancestral sampling, the IWAE 2-layer preset."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from vaekit.config import from_dict
from vaekit.distributions import DiagonalGaussian
from vaekit.models import ModelConfig, build_model
from vaekit.models.hierarchical import precision_weighted
from vaekit.train.config import build_run_config


def tiny(**opts):
    cfg = {"name": "hierarchical", "latent_dim": 2, "lower_latent_dims": [4, 3], "ladder_hidden": [16],
           "likelihood": "bernoulli", "net": {"hidden": [32]}, **opts}
    return build_model(from_dict(ModelConfig, cfg), (12,)).double()


def test_precision_weighted_merge_is_the_normalized_product_of_gaussians():
    a = DiagonalGaussian(torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, 2.0]]))
    b = DiagonalGaussian(torch.tensor([[3.0, 0.5]]), torch.tensor([[math.log(3.0), -1.0]]))
    m = precision_weighted(a, b)
    prec = 1 / a.logvar.exp() + 1 / b.logvar.exp()
    torch.testing.assert_close(m.logvar, -prec.log())
    torch.testing.assert_close(m.mu, (a.mu / a.logvar.exp() + b.mu / b.logvar.exp()) / prec)
    # N(z; a) N(z; b) / N(z; m) is constant in z
    z = torch.randn(5, 2)
    ratio = a.log_prob(z) + b.log_prob(z) - m.log_prob(z)
    torch.testing.assert_close(ratio, ratio[0].expand(5))


def test_residual_posterior_is_the_conditional_prior_shifted_and_scaled():
    torch.manual_seed(0)
    model = with_random_priors(tiny(posterior="residual"))
    x = torch.rand(6, 12, dtype=torch.float64)
    d = model.bottom_up(x)
    z3 = torch.randn(6, 2, dtype=torch.float64)  # the top layer
    q, p = model.merge(1, d[1], z3)  # layer z_2 (3 units)
    delta = model.posterior_head(1, d[1], model.down[1](z3))  # NVAE Eq. 2 offsets
    torch.testing.assert_close(p.mu, model.conditional_prior(1, z3).mu)
    torch.testing.assert_close(q.mu - p.mu, delta.mu)
    torch.testing.assert_close(q.std / p.std, delta.std)


def test_direct_posterior_starts_as_a_flat_vaes_and_then_reads_both_passes():
    torch.manual_seed(0)
    model = tiny(posterior="direct")
    x = torch.rand(6, 12, dtype=torch.float64)
    d = model.bottom_up(x)
    za, zb = torch.randn(2, 6, 3, dtype=torch.float64)  # two draws of the layer above z_1
    (qa, pa), (qb, _) = model.merge(0, d[0], za), model.merge(0, d[0], zb)
    # at initialization the top-down inputs are ignored: q(z_1 | z_2, x) = q(z_1 | x), p = N(0, I)
    torch.testing.assert_close(qa.mu, qb.mu)
    torch.testing.assert_close(qa.logvar, qb.logvar)
    assert torch.equal(pa.mu, torch.zeros_like(pa.mu))
    model = with_random_priors(model)
    with torch.no_grad():
        model.encoder.head.weight.normal_(0.0, 0.3)  # as after training: the head reads h_1 too
    q, p = model.merge(0, d[0], za)
    h = model.down[0](za)
    torch.testing.assert_close(q.mu, model.posterior_head(0, d[0], h).mu)  # not shifted by the prior
    torch.testing.assert_close(p.mu, model.conditional_prior(0, za).mu)
    assert not torch.allclose(q.mu, model.merge(0, d[0], zb)[0].mu)


def test_direct_form_trains_the_top_down_path_from_the_second_step():
    # h_1 only enters zero-initialized weights (prior and posterior heads), so the first gradient of
    # the top-down MLP is exactly zero; once those weights move, every parameter is trained
    torch.manual_seed(0)
    model = tiny(posterior="direct")
    x = torch.bernoulli(torch.full((8, 12), 0.5, dtype=torch.float64))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(2):
        opt.zero_grad()
        model.loss(x)["loss"].backward()
        silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        down = [n for n, _ in model.named_parameters() if n.startswith("down.")]  # both top-down MLPs
        assert silent == ([] if step else down) and len(down) == 4
        opt.step()


def test_unknown_posterior_form_is_a_config_error():
    with pytest.raises(Exception, match="model.posterior"):
        tiny(posterior="mean-field")


def test_conditional_priors_start_as_standard_normals():
    model = tiny()
    for l, z_above in ((0, torch.randn(5, 3, dtype=torch.float64)), (1, torch.randn(5, 2, dtype=torch.float64))):
        p = model.conditional_prior(l, z_above)
        assert torch.equal(p.mu, torch.zeros_like(p.mu)) and torch.equal(p.logvar, torch.zeros_like(p.logvar))


def with_random_priors(model):
    """The model with conditional priors that depend on the layer above (as after training)."""
    with torch.no_grad():
        for head in model.prior_heads:
            head.weight.normal_(0.0, 0.5)
            head.bias.normal_(0.0, 0.3)
    return model


@pytest.mark.parametrize("posterior", ["residual", "precision", "direct"])
def test_per_layer_kl_matches_a_monte_carlo_estimate_against_the_conditional_prior(posterior):
    torch.manual_seed(0)
    model = with_random_priors(tiny(posterior=posterior))
    x = torch.bernoulli(torch.full((1, 12), 0.4, dtype=torch.float64)).expand(10_000, 12)
    layers = model.top_down(model.bottom_up(x))
    sizes = model.latent_dims
    torch.manual_seed(1)
    reported = model.elbo_terms(x).kl.split(sizes, dim=1)  # the KL the ELBO uses, per layer
    for layer, kl_used in zip(layers, reported):
        q, p = Normal(layer.q.mu, layer.q.std), Normal(layer.p.mu, layer.p.std)
        mc = (q.log_prob(layer.z) - p.log_prob(layer.z)).sum(1)  # (N,) one-sample KL estimates
        closed = layer.q.kl(layer.p)  # (N,) closed form given the sampled parent
        se = (mc - closed).std() / math.sqrt(len(mc))
        assert abs(mc.mean() - closed.mean()) < 4 * se + 1e-9
        assert abs(kl_used.sum(1).mean() - closed.mean()) < 0.05 * closed.mean() + 0.01
    # the lower layers are measured against p(z_l | z_{l+1}), not N(0, I): that would differ
    bottom = layers[0]
    assert abs(bottom.q.kl().mean() - bottom.q.kl(bottom.p).mean()) > 0.05


def linear_gaussian_hierarchy(sigma: float = 1.5, posterior: str = "residual"):
    """A ladder VAE whose generative model is linear-Gaussian, so log p(x) is exact.

    z2 ~ N(0, I_1), z1 | z2 ~ N(A z2 + a, diag(d1)), x | z1 ~ N(W z1 + b, sigma^2 I_3).
    Returns (model, log_px).
    """
    cfg = {"name": "hierarchical", "latent_dim": 1, "lower_latent_dims": [2], "ladder_hidden": [],
           "likelihood": "gaussian", "sigma": sigma, "net": {"hidden": []}, "posterior": posterior}
    model = build_model(from_dict(ModelConfig, cfg), (3,)).double()
    g = torch.Generator().manual_seed(3)
    a_mat, a_vec = torch.randn(2, 1, generator=g, dtype=torch.float64), torch.randn(2, generator=g, dtype=torch.float64)
    d1 = torch.tensor([0.5, 0.8], dtype=torch.float64)
    w, b = torch.randn(3, 2, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        down, dec = model.prior_heads[0], model.decoder.net[0]
        down.weight.zero_()
        down.weight[:2] = a_mat
        down.bias.copy_(torch.cat([a_vec, d1.log()]))
        dec.weight.copy_(w)
        dec.bias.copy_(b)
        for head in (model.encoder.head, model.up_heads[0]):  # weak, broad bottom-up evidence
            head.weight.mul_(0.3)
            head.bias[head.out_features // 2:] = 1.0
    cov_z1 = a_mat @ a_mat.T + torch.diag(d1)
    marginal = MultivariateNormal(w @ a_vec + b, w @ cov_z1 @ w.T + sigma ** 2 * torch.eye(3, dtype=torch.float64))
    return model, marginal.log_prob


@pytest.mark.parametrize("posterior", ["residual", "precision", "direct"])
def test_importance_weights_are_unbiased_for_p_x_of_the_hierarchy(posterior):
    torch.manual_seed(0)
    model, log_px = linear_gaussian_hierarchy(posterior=posterior)
    x = torch.tensor([[0.3, -1.0, 0.8], [1.5, 0.2, -0.4]], dtype=torch.float64)
    with torch.no_grad():
        w = model.log_weights(x, k=200_000)  # (k, B)
    estimate = torch.logsumexp(w, 0) - math.log(w.shape[0])  # log mean exp: -> log p(x)
    torch.testing.assert_close(estimate, log_px(x), rtol=0, atol=0.03)
    assert (w.mean(0) < log_px(x)).all()  # the ELBO stays below


def test_log_weights_k1_average_is_the_elbo():
    torch.manual_seed(0)
    model, _ = linear_gaussian_hierarchy()
    x = torch.tensor([[0.3, -1.0, 0.8]], dtype=torch.float64).expand(50_000, 3)
    with torch.no_grad():
        w = model.log_weights(x, k=1)[0]
        elbo = model.loss(x)["elbo"]
    assert abs(w.mean() - elbo) < 4 * w.std() / math.sqrt(len(w))


def test_encode_returns_the_top_layer_and_sampling_is_ancestral():
    model = tiny()
    x = torch.rand(5, 12, dtype=torch.float64)
    assert model.encode(x).mu.shape == (5, 2)
    assert model.elbo_terms(x).kl.shape == (5, 4 + 3 + 2)
    assert [m.shape[1] for m in model.posterior_means(x)] == [4, 3, 2]
    # at temperature 0 every layer takes its conditional-prior mean: z2 = 0 -> mean of p(z1|z2) -> ...
    z = torch.zeros(1, 2, dtype=torch.float64)
    for l in (1, 0):
        z = model.conditional_prior(l, z).mu
    torch.testing.assert_close(model.sample(3, temperature=0.0), model.observe(z).mean.expand(3, 12))
    assert model.sample(3, mean=False).shape == (3, 12)


def linear_shapes(module: torch.nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("preset", ["iwae-2layer", "iwae-2layer-k5"])
def test_iwae_2layer_preset_has_the_papers_units(preset):
    cfg = build_run_config(preset).model
    model = build_model(cfg, (1, 28, 28))
    assert model.latent_dims == [100, 50]
    # q(z_1 | z_2, x) reads the bottom-up features (200) and the top-down ones (100)
    assert linear_shapes(model.encoder) == [(784, 200), (200, 200), (200 + 100, 2 * 100)]
    assert linear_shapes(model.up) + linear_shapes(model.up_heads) == [(200, 100), (100, 100), (100, 2 * 50)]
    assert linear_shapes(model.down) + linear_shapes(model.prior_heads) == [(50, 100), (100, 100), (100, 2 * 100)]
    assert linear_shapes(model.decoder) == [(100, 200), (200, 200), (200, 784)]
    assert all(isinstance(m, torch.nn.Tanh) for m in model.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.Tanh)))


def test_ladder_preset_is_the_flat_iwae_vae_with_a_layer_on_top():
    flat = build_model(build_run_config("iwae-1layer").model, (1, 28, 28))
    model = build_model(build_run_config("ladder-50-50").model, (1, 28, 28))
    assert model.latent_dims == [50, 50] and model.config.posterior == "direct"
    assert linear_shapes(model.encoder.body) == linear_shapes(flat.encoder.body)
    assert linear_shapes(model.decoder) == linear_shapes(flat.decoder)
    # z_1's head reads the flat VAE's 200 features and the 100 top-down ones (zero at first)
    assert linear_shapes(model.encoder.head) == [(200 + 100, 2 * 50)]
    assert torch.equal(model.encoder.head.weight[:, 200:], torch.zeros(100, 100))
    assert linear_shapes(model.down) + linear_shapes(model.prior_heads) == [(50, 100), (100, 100), (100, 2 * 50)]
