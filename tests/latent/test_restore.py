"""Restoration: denoising is the decoder mean of the encoding; inpainting keeps the observed pixels."""

from __future__ import annotations

import pytest
import torch

from vaekit.config import from_dict
from vaekit.data.corrupt import half_mask, inpainting_mask
from vaekit.errors import ConfigError
from vaekit.latent import batch, inpaint, inpaint_iterates, load_split, restore
from vaekit.models import ModelConfig, build_model
from vaekit.restoration import inpaint_examples


def untrained():
    torch.manual_seed(0)
    return build_model(from_dict(ModelConfig, {"latent_dim": 3, "net": {"hidden": [16]}}, "model."), (1, 6, 6)).eval()


def test_restore_is_the_decoder_mean_at_the_posterior_mean():
    model = untrained()
    x_tilde = torch.rand(4, 1, 6, 6)
    with torch.no_grad():
        expected = model.decode(model.encode(x_tilde).mu).mean
    torch.testing.assert_close(restore(model, x_tilde), expected)


@pytest.mark.parametrize("mode", ["mean", "gibbs"])
def test_observed_pixels_never_change(mode):
    model = untrained()
    x = torch.rand(5, 1, 6, 6)
    mask = inpainting_mask(x, "random", 0.4, torch.Generator().manual_seed(1))
    iterates = list(inpaint_iterates(model, x, mask, steps=4, mode=mode, fill="noise"))
    assert len(iterates) == 5
    for x_t in iterates:
        assert torch.equal(x_t[~mask.expand_as(x)], x[~mask.expand_as(x)])
    assert not torch.equal(iterates[-1][mask.expand_as(x)], iterates[0][mask.expand_as(x)])


def test_zero_steps_give_the_fill_and_one_mean_step_is_a_reconstruction():
    model = untrained()
    x = torch.rand(3, 1, 6, 6)
    mask = half_mask(x)
    start = inpaint(model, x, mask, steps=0)
    assert torch.equal(start, torch.where(mask, torch.zeros_like(x), x))
    noise_a = inpaint(model, x, mask, steps=0, fill="noise", generator=torch.Generator().manual_seed(3))
    noise_b = inpaint(model, x, mask, steps=0, fill="noise", generator=torch.Generator().manual_seed(3))
    assert torch.equal(noise_a, noise_b) and noise_a[:, :, 3:].std() > 0.2
    one = inpaint(model, x, mask, steps=1)
    torch.testing.assert_close(one, torch.where(mask, model.reconstruct(start), x))
    with pytest.raises(ConfigError, match="mode must be one of mean, gibbs"):
        inpaint(model, x, mask, mode="icm")


def test_inpainting_improves_over_the_iterations_on_a_trained_model(tiny_run):
    ds = load_split(tiny_run)
    x, y = batch(tiny_run, ds, torch.arange(len(ds)))
    result = inpaint_examples(tiny_run.model, x, y, "half", steps=20)
    psnr = result.psnr  # dB over the hidden bottom halves, after 0 .. 20 steps
    assert psnr[1] > psnr[0] + 2.0  # the first encode-decode round fills the region far better than zeros
    assert psnr[20] > psnr[1] + 0.3  # later rounds, seeing the filled image, still gain
    assert psnr[20] >= max(psnr) - 0.05  # and do not drift away
    observed = ~result.mask.expand_as(x)
    assert torch.equal(result.filled[observed], x[observed])
