"""VQ-VAE: straight-through gradient, codebook and commitment gradients, restarts, code statistics, prior."""

from __future__ import annotations

import math

import torch

from vaekit.models import MODELS, build_model
from vaekit.models.vq_vae import nearest_codes
from vaekit.nets import NetConfig

SHAPE = (1, 8, 8)


def make_vq(**options):
    torch.manual_seed(0)
    cfg = MODELS.get("vq_vae").Config(latent_dim=3, net=NetConfig(hidden=[16]), code_grid=[2, 3], codebook_size=6,
                                      prior_channels=8, prior_layers=2, **options)
    model = build_model(cfg, SHAPE)
    with torch.no_grad():
        model.codebook.normal_()
    return model, torch.bernoulli(torch.rand(5, *SHAPE))


def test_quantization_picks_the_nearest_code():
    z, codebook = torch.randn(7, 4, 3), torch.randn(6, 3)
    brute = ((z[:, :, None] - codebook) ** 2).sum(-1).argmin(-1)
    assert torch.equal(nearest_codes(z, codebook), brute)


def test_straight_through_gradient_is_the_decoder_gradient_at_the_code():
    model, x = make_vq()
    q = model.encode(x)
    torch.testing.assert_close(q.mean.view_as(q.e), model.codebook[q.codes.flatten(1)])  # forward value: e
    q.z_e.retain_grad()
    (-model.decode(q.mean).log_prob(x).sum()).backward()
    z_q = q.e.detach().flatten(1).requires_grad_()
    (-model.decode(z_q).log_prob(x).sum()).backward()
    torch.testing.assert_close(q.z_e.grad, z_q.grad.view_as(q.z_e))
    assert model.codebook.grad is None  # the decoder term never moves the codebook


def test_codebook_and_commitment_terms_move_codes_and_encoder():
    model, x = make_vq(commitment=0.25)
    out = model.loss(x)
    q = model.encode(x)
    codebook = (q.z_e.detach() - q.e).pow(2).sum((1, 2)).mean()
    commitment = (q.z_e - q.e.detach()).pow(2).sum((1, 2)).mean()
    torch.testing.assert_close(out["loss"], out["distortion"] + codebook + 0.25 * commitment)
    (codebook_grad,) = torch.autograd.grad(codebook, model.codebook)
    expected = torch.zeros_like(model.codebook).index_add_(  # d/de_k = 2 sum_{positions with code k} (e_k - z_e) / B
        0, q.codes.flatten(), 2 * (q.e - q.z_e).detach().reshape(-1, 3) / 5)
    torch.testing.assert_close(codebook_grad, expected)
    torch.testing.assert_close(out["rate"], -model.prior().log_prob_codes(q.codes).mean())


def test_dead_codes_restart_at_encoder_outputs():
    model, x = make_vq(restart_after=2)
    q = model.encode(x)
    used = set(q.codes.flatten().tolist())
    before = model.codebook.detach().clone()
    for _ in range(3):
        model.restart_dead_codes(q.codes, q.z_e.detach())
    outputs = q.z_e.detach().reshape(-1, 3)
    for k in range(6):
        if k in used:
            assert torch.equal(model.codebook[k], before[k]) and model.code_age[k] == 0
        else:
            assert (model.codebook[k] - outputs).abs().sum(1).min() == 0, f"code {k} was not restarted"


def test_code_statistics_known_answer():
    model, _ = make_vq()
    codes = torch.tensor([0, 1, 2, 0, 1, 2]).repeat(4, 1)  # three codes equally often: perplexity 3
    mu = model.codebook.detach()[codes].flatten(1)
    stats = model.latent_summary(mu)
    assert stats["codes_used"] == 3 and stats["codebook_usage"] == 0.5
    assert math.isclose(stats["code_perplexity"], 3.0, rel_tol=1e-9)


def test_prior_trains_on_the_step_codes_and_greedy_sampling_follows_its_argmax():
    model, x = make_vq()
    model.train()
    model.loss(x)["loss"].backward()
    aux = model.auxiliary_loss()
    assert aux is not None and model.auxiliary_loss() is None  # one prior step per training step
    aux.backward()
    assert all(p.grad is not None for p in model.auxiliary_parameters())
    prior = model.prior()
    codes = prior.sample_codes(4, temperature=0.0)  # (4, 2, 3) greedy
    torch.testing.assert_close(codes, prior.logits(codes).argmax(1))  # teacher-forced argmax everywhere
    z = prior.sample(4)
    torch.testing.assert_close(prior.log_prob(z), prior.log_prob_codes(model.quantize(z).view(4, 2, 3)))
