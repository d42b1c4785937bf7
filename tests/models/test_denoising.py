"""The denoising criterion on the shared ELBO: exact terms for the plain VAE, refusals."""

from __future__ import annotations

import pytest
import torch

from vaekit.config import from_dict
from vaekit.errors import ConfigError
from vaekit.models import VAE, ModelConfig, build_model


def tiny_vae() -> VAE:
    torch.manual_seed(0)
    return build_model(from_dict(ModelConfig, {"latent_dim": 2, "net": {"hidden": [8]}}, "model."), (1, 4, 4))


def test_vae_denoising_terms_are_q_of_x_tilde_scored_on_x():
    model = tiny_vae()
    x = torch.rand(5, 1, 4, 4)
    x_tilde = x.flip(0)  # any other input of the same shape
    torch.manual_seed(7)
    out = model.loss(x, x_in=x_tilde)
    torch.manual_seed(7)
    q = model.encode(x_tilde)
    z = q.rsample()
    expected_distortion = -model.decode(z).log_prob(x).mean()  # scored on the clean x
    torch.testing.assert_close(out["distortion"], expected_distortion)
    torch.testing.assert_close(out["rate"], q.kl_dims().sum(1).mean())
    torch.testing.assert_close(out["nelbo"], expected_distortion + q.kl_dims().sum(1).mean())


def test_importance_terms_draw_from_q_of_x_in():
    model = tiny_vae()
    x, x_tilde = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    torch.manual_seed(2)
    log_px, log_ratio = model.importance_terms(x, None, 4, x_in=x_tilde)
    torch.manual_seed(2)
    q = model.encode(x_tilde)
    z = q.rsample(4)  # (4, 3, Z)
    torch.testing.assert_close(log_px, model.decode(z.flatten(0, 1)).log_prob(x.repeat(4, 1, 1, 1)).view(4, 3))
    torch.testing.assert_close(log_ratio, model.prior().log_prob_dims(z) - q.log_prob_dims(z))


def test_a_wrong_shape_and_a_model_without_the_hook_are_refused():
    model = tiny_vae()
    x = torch.rand(4, 1, 4, 4)
    with pytest.raises(ConfigError, match=r"encoder's input has shape \(2, 1, 4, 4\)"):
        model.loss(x, x_in=x[:2])

    class Opaque(VAE):
        denoising = False

    opaque = Opaque(model.config, (1, 4, 4))
    with pytest.raises(ConfigError, match="cannot train on corrupted inputs"):
        opaque.loss(x, x_in=x)
    assert set(opaque.loss(x)) >= {"loss", "nelbo"}  # clean training is unaffected
