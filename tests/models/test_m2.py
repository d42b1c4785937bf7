"""M2 and M1+M2 (Kingma et al. 2014): the bounds as defined, checked by enumeration on tiny models."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.config import from_dict, to_dict
from vaekit.distributions import noise_source
from vaekit.errors import ConfigError
from vaekit.models import LossContext, ModelConfig, build_model
from vaekit.models.m2 import draw_classes
from vaekit.run import open_run

C = 3


def tiny(name: str = "m2", shape: tuple = (5,), **opts):
    torch.manual_seed(0)
    cfg = from_dict(ModelConfig, {"name": name, "latent_dim": 2, "net": {"hidden": [8]}, **opts})
    return build_model(cfg, shape, C)


def cvae_twin(m2):
    """The conditional VAE with M2's encoder and decoder weights (M2 minus its classifier)."""
    data = {k: v for k, v in to_dict(m2.config).items() if k != "alpha"}
    cvae = build_model(from_dict(ModelConfig, {**data, "name": "cvae"}), m2.sample_shape, C)
    cvae.load_state_dict({k: v for k, v in m2.state_dict().items() if not k.startswith("classifier.")})
    return cvae


def zero_noise():
    """z = mu for every reparameterized draw: bounds become deterministic functions of the weights."""
    return noise_source(lambda shape, device, dtype: torch.zeros(shape, device=device, dtype=dtype))


def per_example_nelbo(model, x, y):
    terms = model.elbo_terms(x, y)
    return terms.kl.sum(1) - terms.log_px  # (B,)


def batch(n: int = 6):
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 5, generator=g), torch.randint(0, C, (n,), generator=g)


def test_labelled_bound_is_the_cvae_bound_plus_log_prior_and_the_weighted_classification_term():
    m2, (x, y) = tiny(alpha=0.7), batch()
    cvae = cvae_twin(m2)
    with zero_noise():
        out, ref = m2.loss(x, y), cvae.loss(x, y)
        per_m2, per_cvae = per_example_nelbo(m2, x, y), per_example_nelbo(cvae, x, y)
    log_qy = torch.log_softmax(m2.classifier(x), -1)
    ce = -log_qy[torch.arange(len(y)), y].mean()
    torch.testing.assert_close(per_m2, per_cvae + math.log(C))  # L(x, y) = -(log p(x|y) bound + log p(y))
    torch.testing.assert_close(out["distortion"], ref["distortion"] + math.log(C))
    torch.testing.assert_close(out["rate"], ref["rate"])
    torch.testing.assert_close(out["loss"], ref["nelbo"] + math.log(C) + 0.7 * ce)
    torch.testing.assert_close(out["classification"], ce)


def test_unlabelled_bound_is_the_expectation_over_q_y_plus_its_entropy():
    m2, (x, y) = tiny(), batch()
    cvae = cvae_twin(m2)
    y_mixed = torch.where(torch.arange(len(y)) % 2 == 0, -1, y)  # even rows unlabelled
    with zero_noise():
        l_c = torch.stack([per_example_nelbo(cvae, x, torch.full_like(y, c)) + math.log(C) for c in range(C)])
        got = per_example_nelbo(m2, x, y_mixed)
        out = m2.loss(x, torch.full_like(y, -1))
    q = torch.softmax(m2.classifier(x), -1).T  # (C, B)
    entropy = -(q * q.log()).sum(0)
    u = (q * l_c).sum(0) - entropy  # U(x) = -(sum_y q(y|x) (-L(x, y)) + H(q(y|x)))
    labelled = l_c.gather(0, y[None])[0]
    torch.testing.assert_close(got, torch.where(y_mixed >= 0, labelled, u))
    torch.testing.assert_close(out["nelbo"], u.mean())
    torch.testing.assert_close(out["loss"], u.mean())  # no labels: no classification term
    assert out["classification"] == 0


def test_kl_weight_scales_the_z_rate_and_not_the_class_term():
    m2, (x, _) = tiny(), batch()
    y = torch.full((6,), -1)
    with zero_noise():
        terms = m2.elbo_terms(x, y)
        out = m2.loss(x, y, LossContext(kl_weight=0.25))
    kl_z, kl_y = terms.kl[:, :2].sum(1).mean(), terms.kl[:, 2].mean()
    assert kl_y > 0
    torch.testing.assert_close(out["loss"], -terms.log_px.mean() + 0.25 * kl_z + kl_y)
    torch.testing.assert_close(out["rate"], kl_z + kl_y)


@pytest.mark.parametrize("labelled", [False, True])
def test_importance_weights_are_unbiased_for_the_bound(labelled):
    """E over y ~ q(y|x), z ~ q(z|x,y) of log w = the bound (Eq. 7): the Monte Carlo mean of 8,000 draws
    against the bound averaged over 1,000 z draws, within 5 standard errors."""
    m2, (x, y) = tiny(), batch(2)
    y = y if labelled else torch.full_like(y, -1)
    torch.manual_seed(2)
    with torch.no_grad():
        log_w = m2.log_weights(x, y, k=8000)  # (k, B)
        bound = torch.stack([-per_example_nelbo(m2, x, y) for _ in range(1000)])  # (1000, B)
    se = (log_w.var(0) / log_w.shape[0] + bound.var(0) / bound.shape[0]).sqrt()
    assert ((log_w.mean(0) - bound.mean(0)).abs() < 5 * se).all(), (log_w.mean(0), bound.mean(0), se)


def test_class_draws_follow_q_y():
    log_q = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9]]))
    torch.manual_seed(0)
    freq = torch.stack([torch.bincount(d, minlength=3) for d in draw_classes(log_q, 20000).T]).float() / 20000
    torch.testing.assert_close(freq, log_q.exp(), atol=0.015, rtol=0)


def test_m2_infers_missing_labels_and_generates_by_class():
    m2, (x, y) = tiny(), batch()
    y_hat = m2.classify(x)
    assert y_hat.shape == (6,) and ((y_hat >= 0) & (y_hat < C)).all()
    torch.testing.assert_close(m2.encode(x).mu, m2.encode(x, y_hat).mu)
    torch.testing.assert_close(m2.encode(x, torch.full_like(y, -1)).mu, m2.encode(x, y_hat).mu)
    assert not torch.allclose(m2.encode(x, (y_hat + 1) % C).mu, m2.encode(x, y_hat).mu)
    cold = m2.decode(torch.zeros(4, 2), torch.full((4,), 2)).mean
    torch.testing.assert_close(m2.sample(4, y=2, temperature=0.0), cold)
    torch.manual_seed(0)
    assert m2.sample(300, temperature=0.0).round(decimals=4).unique(dim=0).shape[0] == C  # y ~ p(y) without a class


def test_m1m2_bound_stacks_m1_on_the_m2_bound():
    model, (x, y) = tiny("m1m2", (1, 4, 4), m1_latent_dim=5, m1_net={"hidden": [8]}), batch()
    x = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(3))
    y = torch.where(torch.arange(6) < 3, -1, y)
    with zero_noise():
        out = model.loss(x, y)
        q1 = model.m1.encode(x)
        z1 = q1.mu
        m2_nelbo = per_example_nelbo(model.m2, z1, y)
        m2_out = model.m2.loss(z1, y)
    distortion = -model.m1.decode(z1).log_prob(x)
    rate = q1.log_prob(z1) + m2_nelbo
    torch.testing.assert_close(out["distortion"], distortion.mean())
    torch.testing.assert_close(out["rate"], rate.mean())
    torch.testing.assert_close(out["classification"], m2_out["classification"])
    torch.testing.assert_close(model.classify(x), model.m2.classify(q1.mu))
    assert not any(p.requires_grad for p in model.m1.parameters())


def test_m1m2_warm_start_copies_the_m1_run_and_checks_it(tiny_run):
    cfg = from_dict(ModelConfig, {"name": "m1m2", "latent_dim": 2, "m1_run": str(tiny_run.path)})
    assert (cfg.m1_latent_dim, cfg.m1_net) == (tiny_run.model.latent_dim, tiny_run.model.config.net)  # from the run
    model = build_model(cfg, (1, 8, 8), 10)
    model.warm_start(lambda path: open_run(path).model)
    for key, value in tiny_run.model.state_dict().items():
        assert torch.equal(model.m1.state_dict()[key], value)
    other = build_model(from_dict(ModelConfig, {**to_dict(cfg), "m1_net": {"hidden": [16]}}), (1, 8, 8), 10)
    with pytest.raises(ConfigError, match="m1_net"):
        other.warm_start(lambda path: open_run(path).model)
    with pytest.raises(ConfigError, match="m1_run"):
        from_dict(ModelConfig, {"name": "m1m2"})
    with pytest.raises(ConfigError, match="no-such-run"):
        from_dict(ModelConfig, {"name": "m1m2", "m1_run": "no-such-run"})
