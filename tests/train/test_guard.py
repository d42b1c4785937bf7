"""The non-finite guard (issue 10, must-show 3): a NaN batch or an overflow skips the update, skips are
counted in the metrics, N consecutive skips stop the run with a usable checkpoint; log-variances stay safe."""

from __future__ import annotations

import contextlib
import copy
import json
import math

import pytest
import torch

import vaekit
from vaekit.config import from_dict
from vaekit.data import load_data
from vaekit.distributions import DiagonalGaussian
from vaekit.errors import TrainingError
from vaekit.models import VAE, build_model
from vaekit.train.api import resume
from vaekit.train.checkpoint import load_checkpoint
from vaekit.train.config import RunConfig
from vaekit.train import step
from vaekit.train.loop import Trainer
from vaekit.train.tally import DeviceTally, HostTally

from ..conftest import tiny_config

CPU = torch.device("cpu")


def make_trainer(tmp_path, **train) -> Trainer:
    cfg = from_dict(RunConfig, tiny_config(tmp_path, **train))
    torch.manual_seed(0)
    splits, pre = load_data(cfg.data)
    model = build_model(cfg.model, splits.train.sample_shape, splits.train.n_classes)
    return Trainer(model, splits, pre, cfg.train, CPU)


def snapshot(trainer: Trainer):
    return copy.deepcopy(trainer.model.state_dict()), copy.deepcopy(trainer.opt.state_dict())


def assert_unchanged(before, trainer: Trainer) -> None:
    weights, opt = before
    assert all(torch.equal(weights[k], v) for k, v in trainer.model.state_dict().items())
    now = trainer.opt.state_dict()["state"]
    assert all(torch.equal(opt["state"][i][k], now[i][k]) for i in opt["state"] for k in opt["state"][i])


def batch(trainer: Trainer, n: int = 16) -> torch.Tensor:
    return trainer.pre(trainer.train_x[:n])


@pytest.mark.parametrize("on_device", [False, True], ids=["host-skip", "fused-found-inf"])
@pytest.mark.parametrize("poison", ["nan-input", "overflow"])
def test_bad_batch_skips_the_update_and_leaves_state_untouched(tmp_path, on_device, poison):
    trainer = make_trainer(tmp_path)
    if on_device:  # the CUDA path (fused Adam reads the skip flag on the device), exercised on CPU
        trainer.stepper.__init__(trainer.model, trainer.model.loss, 1e-3, None, "fp32", CPU, trainer.dist, True)
    good = batch(trainer)
    trainer.stepper(good, None, trainer.ctx())  # Adam has state now
    before = snapshot(trainer)
    x = good.clone()
    if poison == "nan-input":
        x[3, 0, 2, 2] = math.nan
    else:  # finite input whose forward pass overflows float32 to inf
        x[3] = 3e38
    terms, bad = trainer.stepper(x, None, trainer.ctx())
    assert bool(bad) and not all(map(math.isfinite, terms))
    assert_unchanged(before, trainer)
    terms, bad = trainer.stepper(good, None, trainer.ctx())
    assert not bool(bad) and all(map(math.isfinite, terms))


PROBES = {"sum-after-backward": (None, False), "sum-during-backward": (None, True), "clip-norm": (1.0, True)}


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("poison", [math.inf, -math.inf, math.nan])
def test_nonfinite_gradient_with_a_finite_loss_skips_the_update(tmp_path, monkeypatch, probe, poison):
    grad_clip, recording = PROBES[probe]
    monkeypatch.setattr(step, "HOT_SUM_MIN", 1)  # tiny model: hook every gradient while recording
    trainer = make_trainer(tmp_path)
    trainer.stepper.grad_clip = grad_clip
    good = batch(trainer)
    trainer.stepper(good, None, trainer.ctx())
    before = snapshot(trainer)
    weight = trainer.stepper.params[0]
    hook = weight.register_hook(lambda g: g.index_fill(0, torch.tensor([0]), poison))  # one bad row
    with trainer.stepper.recording() if recording else contextlib.nullcontext():
        terms, bad = trainer.stepper(good, None, trainer.ctx())
    hook.remove()
    assert bool(bad) and all(map(math.isfinite, terms))  # the loss was fine; a gradient was not
    assert_unchanged(before, trainer)


@pytest.mark.parametrize("hot_min", [1, 300, 10**9], ids=["all-hooked", "mixed", "none-hooked"])
def test_probe_recorded_during_backward_sums_every_gradient_once(tmp_path, monkeypatch, hot_min):
    monkeypatch.setattr(step, "HOT_SUM_MIN", hot_min)
    trainer = make_trainer(tmp_path)
    stepper, x = trainer.stepper, batch(trainer)
    with stepper.recording():
        for _ in range(2):  # the sums of one backward never leak into the next
            stepper.opt.zero_grad(set_to_none=True)
            stepper.sums.clear()
            trainer.model.loss(x)["loss"].backward()
            recorded = sorted(s.item() for s in stepper.grad_probe())
    # one sum per hooked gradient, and one sum over all the small ones together
    small = [p.grad.sum().item() for p in stepper.params if p.numel() < hot_min]
    expected = [p.grad.sum().item() for p in stepper.params if p.numel() >= hot_min]
    expected = sorted(expected + ([math.fsum(small)] if small else []))
    assert recorded == pytest.approx(expected, rel=1e-6, abs=1e-9)
    trainer.model.loss(x)["loss"].backward()  # hooks are gone outside recording()
    assert stepper.sums == [] and len(stepper.grad_probe()) == len(expected)


def test_nan_example_in_the_data_is_skipped_and_counted(tmp_path):
    trainer = make_trainer(tmp_path, epochs=2)
    x = trainer.train_x.float()
    x[100, 0, 4, 4] = math.nan  # one example: exactly one batch per epoch is poisoned
    trainer.train_x = x
    start = copy.deepcopy(trainer.model.state_dict())
    history = trainer.fit()
    assert [row["skipped_steps"] for row in history] == [1, 2]
    assert all(math.isfinite(row["train_nelbo"]) for row in history)
    weights = trainer.model.state_dict()
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert not all(torch.equal(start[k], weights[k]) for k in weights)  # the other steps trained


def test_consecutive_nonfinite_steps_stop_with_a_usable_checkpoint(tmp_path, monkeypatch):
    loss = VAE.loss

    def diverging(self, x, y=None, ctx=None):
        out = loss(self, x, y, ctx)
        if ctx is not None and ctx.step >= 30:  # diverges in epoch 2 (26 steps per epoch)
            out = {k: v * math.inf for k, v in out.items()}
        return out

    monkeypatch.setattr(VAE, "loss", diverging)
    with pytest.raises(TrainingError, match="stopped after 3 consecutive non-finite steps"):
        vaekit.train(tiny_config(tmp_path, epochs=3, max_nonfinite=3))
    run = tmp_path / "tiny"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "stopped" and "non-finite" in info["error"]
    ckpt = load_checkpoint(run)
    assert ckpt.meta["state"]["step"] == 33 and ckpt.meta["state"]["nonfinite_total"] == 3
    model = vaekit.load(run, "last")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(torch.equal(ckpt.model[k], v) for k, v in model.state_dict().items())
    monkeypatch.undo()  # the cause is fixed: the run resumes from the stop and finishes
    assert resume(run).info["status"] == "finished"


def test_device_tally_read_lazily_still_sees_a_streak_that_ended():
    tally = DeviceTally(CPU, limit=3, check_every=4)  # the CUDA tally (runs on any device)
    for step, flag in enumerate([True, True, True, False], 1):
        tally.add(torch.ones(4), torch.tensor(flag), 10)
        if step < 4:
            tally.check(step)  # not a multiple of check_every: nothing is read
    with pytest.raises(TrainingError, match="stopped after 3 consecutive"):
        tally.check(4)
    assert tally.skipped == 3 and tally.epoch_sums(CPU).tolist() == [10.0] * 5


def test_host_and_device_tallies_agree():
    flags = [False, True, False, True, True, False, False]
    host, device = HostTally(limit=5), DeviceTally(CPU, limit=5, check_every=1)
    for i, flag in enumerate(flags):
        terms = torch.tensor([1.0, 2.0, 3.0, float(i)]) if not flag else torch.full((4,), math.nan)
        host.add(terms.tolist(), flag, 8)  # what the host Stepper returns: floats and a bool
        device.add(terms, torch.tensor(flag), 8)
    assert torch.equal(host.epoch_sums(CPU), device.epoch_sums(CPU))
    assert torch.equal(host.epoch_sums(CPU), torch.tensor([32.0, 64.0, 96.0, 8.0 * (0 + 2 + 5 + 6), 32.0],
                                                          dtype=torch.float64))
    assert host.skipped == device.skipped == 3
    assert torch.equal(host.state()["counts"][:2], device.state()["counts"][:2])


def test_log_variances_are_kept_in_a_safe_range():
    mu = torch.zeros(2, 3)
    for logvar in (torch.full((2, 3), 1e4), torch.full((2, 3), -1e4)):
        q = DiagonalGaussian(mu, logvar)
        assert torch.isfinite(q.kl()).all() and torch.isfinite(q.rsample()).all()
        assert torch.isfinite(q.log_prob(torch.ones(2, 3))).all()
