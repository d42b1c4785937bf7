"""Devices, mixed precision, channels-last and torch.compile. CUDA paths are marked ``gpu``
and skip cleanly without a GPU; the CPU halves of each run everywhere."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.config import from_dict
from vaekit.data import load_data
from vaekit.device import autocast, resolve_device
from vaekit.distributions import noise_source
from vaekit.errors import ConfigError
from vaekit.models import build_model
from vaekit.train.config import RunConfig
from vaekit.train.loop import Trainer

from ..conftest import tiny_config

CONV = {"body": "conv", "channels": [8, 16], "kernel": 3, "stride": 2}
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def make_trainer(tmp_path, device="cpu", net=None, **train) -> Trainer:
    raw = tiny_config(tmp_path, device=device, **train)
    if net:
        raw["model"]["net"] = net
    cfg = from_dict(RunConfig, raw)
    torch.manual_seed(0)
    splits, pre = load_data(cfg.data)
    model = build_model(cfg.model, splits.train.sample_shape, splits.train.n_classes)
    return Trainer(model, splits, pre, cfg.train, resolve_device(cfg.train.device))


def test_device_names_resolve_or_fail_clearly():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="device must be auto, cpu or cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is available"):
            resolve_device("cuda")


def test_fp16_needs_cuda(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("has a GPU")
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        make_trainer(tmp_path, precision="fp16")


def test_bf16_autocast_trains_on_cpu(tmp_path):
    trainer = make_trainer(tmp_path, precision="bf16")
    with autocast(trainer.device, "bf16"):
        h = trainer.model.encoder(trainer.pre(trainer.train_x[:4]))[0]
    assert h.dtype == torch.bfloat16  # matmuls really run in bf16 ...
    row = trainer.fit_epoch()
    assert math.isfinite(row["train_nelbo"]) and row["skipped_steps"] == 0
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # ... weights stay fp32


def test_channels_last_on_request_for_conv_models(tmp_path):
    trainer = make_trainer(tmp_path, net=CONV, channels_last=True)
    conv = trainer.model.encoder.body[0]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert math.isfinite(trainer.fit_epoch()["train_nelbo"])
    assert not make_trainer(tmp_path, net=CONV).channels_last  # default: only on CUDA


@pytest.mark.slow
def test_compile_matches_eager_on_cpu(tmp_path):
    eager, compiled = make_trainer(tmp_path), make_trainer(tmp_path, compile=True)
    x = eager.pre(eager.train_x[:32])
    with noise_source(lambda shape, device, dtype: torch.zeros(shape, device=device, dtype=dtype)):
        a = eager.stepper.loss_fn(x, None, eager.ctx())["loss"]  # compiled code draws other noise: use none
        b = compiled.stepper.loss_fn(x, None, compiled.ctx())["loss"]
    assert torch.allclose(a, b, rtol=1e-5)
    assert math.isfinite(compiled.fit_epoch()["train_nelbo"])


# --- CUDA -------------------------------------------------------------------------------------------
@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_steps_never_synchronize_with_the_host(tmp_path, precision):
    trainer = make_trainer(tmp_path, device="cuda", precision=precision)
    x = trainer.pre(trainer.train_x[:64])
    trainer.stepper(x, None, trainer.ctx())  # warm-up (lazy allocations)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for step in range(1, 4):
            terms, bad = trainer.stepper(x, None, trainer.ctx())
            trainer.tally.add(terms, bad, len(x))
            trainer.tally.check(step)  # reads the counters only every 32 steps
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert trainer.tally.skipped == 0


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_cuda_nan_batch_is_skipped_on_the_device(tmp_path, precision):
    trainer = make_trainer(tmp_path, device="cuda", precision=precision)
    x = trainer.pre(trainer.train_x[:64])
    trainer.stepper(x, None, trainer.ctx())
    before = [p.detach().clone() for p in trainer.model.parameters()]
    x_bad = x.clone()
    x_bad[0] = math.nan
    _, bad = trainer.stepper(x_bad, None, trainer.ctx())
    assert bool(bad)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


@pytest.mark.gpu
@cuda
def test_cuda_conv_training_with_channels_last_bf16_and_compile(tmp_path):
    trainer = make_trainer(tmp_path, device="cuda", net=CONV, precision="bf16", compile=True)
    assert trainer.channels_last
    assert math.isfinite(trainer.fit_epoch()["train_nelbo"])
    assert "rng.cuda.0" in trainer.checkpoint_data().tensors
