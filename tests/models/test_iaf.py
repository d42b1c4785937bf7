"""IAF posterior: identity flows give the diagonal Gaussian, steps are autoregressive with the right log-det."""

from __future__ import annotations

import pytest
import torch

from vaekit.models import MODELS, build_model
from vaekit.models.iaf import IAFStep
from vaekit.nets import NetConfig

SHAPE = (1, 8, 8)


def pair():
    torch.manual_seed(0)
    net = NetConfig(hidden=[16])
    iaf = build_model(MODELS.get("iaf").Config(latent_dim=4, net=net, n_flows=3, flow_hidden=[12], context_dim=5), SHAPE)
    vae = build_model(MODELS.get("vae").Config(latent_dim=4, net=net), SHAPE)
    vae.load_state_dict({k: v for k, v in iaf.state_dict().items() if k in vae.state_dict()})
    return iaf, vae


def test_identity_flows_equal_the_diagonal_posterior():
    iaf, vae = pair()
    with torch.no_grad():
        for step in iaf.flows:
            step.out.weight.zero_()
            step.out.bias.zero_()
    x = torch.bernoulli(torch.rand(5, *SHAPE))
    torch.manual_seed(1)
    z, log_q = iaf.encode(x).rsample_with_log_prob(7)
    torch.manual_seed(1)
    z_ref, log_q_ref = vae.encode(x).rsample_with_log_prob(7)
    torch.testing.assert_close(z, z_ref)
    torch.testing.assert_close(log_q, log_q_ref)
    torch.testing.assert_close(log_q, vae.encode(x).log_prob(z))
    for a, b in ((iaf, vae), (vae, iaf)):
        torch.manual_seed(2)
        first = a.log_weights(x, k=9)
        torch.manual_seed(2)
        torch.testing.assert_close(first, b.log_weights(x, k=9))


@pytest.mark.parametrize("reverse", [False, True])
def test_a_step_is_autoregressive_and_its_log_det_is_exact(reverse):
    torch.manual_seed(0)
    step = IAFStep(5, [16, 16], 3, reverse, max_log_scale=3.0).double()
    with torch.no_grad():
        step.out.weight.normal_()  # far from the identity
        step.out.bias.normal_()
    z, h = torch.randn(5, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: step(v, h)[0], z)  # (5, 5)
    order = torch.arange(5).flip(0) if reverse else torch.arange(5)
    jac = jac[order][:, order]  # in the step's own variable order
    assert torch.equal(jac.triu(1), torch.zeros_like(jac)), "z'_i reads z_j after i"
    assert (jac.tril(-1).abs() > 0).sum() > 0, "the step ignores earlier variables"
    torch.testing.assert_close(step(z, h)[1], torch.logdet(jac))


def test_the_flow_density_is_the_change_of_variables():
    iaf, _ = pair()
    with torch.no_grad():
        for step in iaf.flows:
            step.out.weight.normal_(0, 0.3)
    x = torch.bernoulli(torch.rand(1, *SHAPE))
    q = iaf.encode(x)
    torch.manual_seed(3)
    z, log_q = q.rsample_with_log_prob()
    torch.manual_seed(3)
    z0 = q.base.rsample()

    def forward(v):
        return q.flow(v[None], torch.zeros(1))[0][0]

    jac = torch.autograd.functional.jacobian(forward, z0[0])
    torch.testing.assert_close(forward(z0[0]), z[0])
    torch.testing.assert_close(log_q[0], q.base.log_prob(z0)[0] - torch.logdet(jac), atol=1e-4, rtol=1e-4)
