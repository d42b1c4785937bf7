"""The training guard: a bad step is skipped and leaves every state untouched, skips are counted,
N consecutive skips stop the run with finite weights, non-finite weights are never saved, and a
diverging run says so."""

from __future__ import annotations

import copy
import json
import logging
import math

import pytest
import torch

import vaekit
from vaekit.config import from_dict
from vaekit.data import load_data
from vaekit.distributions import DiagonalGaussian
from vaekit.errors import ConfigError, TrainingError
from vaekit.io import load_tensors
from vaekit.models import VAE, build_model
from vaekit.train.api import resume
from vaekit.train.checkpoint import load_checkpoint
from vaekit.train.config import RunConfig, TrainConfig
from vaekit.train.loop import Trainer
from vaekit.train.tally import Tally

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


def all_finite(tensors: dict[str, torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point())


@pytest.mark.parametrize("poison", ["nan-input", "overflow"])
def test_bad_batch_skips_the_update_and_leaves_state_untouched(tmp_path, poison):
    trainer = make_trainer(tmp_path)
    good = batch(trainer)
    trainer.stepper(good, None, trainer.ctx())  # Adam has state now
    before = snapshot(trainer)
    x = good.clone()
    if poison == "nan-input":
        x[3, 0, 2, 2] = math.nan
    else:  # finite input whose forward pass overflows float32 to inf
        x[3] = 3e38
    terms, bad = trainer.stepper(x, None, trainer.ctx())
    assert bad.dtype == torch.bool and bad.dim() == 0 and bool(bad) and not torch.isfinite(terms).all()
    assert_unchanged(before, trainer)
    terms, bad = trainer.stepper(good, None, trainer.ctx())
    assert terms.shape == (4,) and not bool(bad) and torch.isfinite(terms).all()


@pytest.mark.parametrize("grad_clip", [None, 1.0], ids=["no-clip", "clip"])
@pytest.mark.parametrize("poison", [math.inf, -math.inf, math.nan])
def test_nonfinite_gradient_with_a_finite_loss_skips_the_update(tmp_path, grad_clip, poison):
    trainer = make_trainer(tmp_path, grad_clip=grad_clip)
    good = batch(trainer)
    trainer.stepper(good, None, trainer.ctx())
    before = snapshot(trainer)
    weight = trainer.stepper.params[0]
    hook = weight.register_hook(lambda g: g.index_fill(0, torch.tensor([0]), poison))  # one bad row
    terms, bad = trainer.stepper(good, None, trainer.ctx())
    hook.remove()
    assert bool(bad) and torch.isfinite(terms).all()  # the loss was fine; a gradient was not
    assert_unchanged(before, trainer)


def test_skip_threshold_skips_a_huge_but_finite_gradient(tmp_path):
    trainer = make_trainer(tmp_path)
    x = batch(trainer)
    trainer.stepper(x, None, trainer.ctx())
    norm = float(trainer.stepper.clip())  # the gradient norm of that step
    trainer.stepper.skip_threshold = norm / 10  # the next step's norm is about the same: above it
    before = snapshot(trainer)
    terms, bad = trainer.stepper(x, None, trainer.ctx())
    assert bool(bad) and torch.isfinite(terms).all()
    assert_unchanged(before, trainer)
    trainer.stepper.skip_threshold = norm * 10
    _, bad = trainer.stepper(x, None, trainer.ctx())
    assert not bool(bad)


def test_grad_clip_scales_the_gradient_to_the_limit(tmp_path):
    trainer = make_trainer(tmp_path, grad_clip=1e-3)
    trainer.stepper(batch(trainer), None, trainer.ctx())
    grads = [p.grad for p in trainer.stepper.params]
    assert float(torch.nn.utils.get_total_norm(grads)) == pytest.approx(1e-3, rel=1e-4)
    trainer.stepper.grad_clip = None  # off: the norm is left alone (well above 1e-3 here)
    trainer.stepper(batch(trainer), None, trainer.ctx())
    assert float(torch.nn.utils.get_total_norm([p.grad for p in trainer.stepper.params])) > 1e-2


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
    assert all_finite(weights)
    assert not all(torch.equal(start[k], weights[k]) for k in weights)  # the other steps trained


def test_consecutive_nonfinite_steps_stop_with_a_usable_checkpoint(tmp_path, monkeypatch):
    loss = VAE.loss

    def diverging(self, x, y=None, ctx=None):
        out = loss(self, x, y, ctx)
        if ctx is not None and ctx.step >= 30:  # diverges in epoch 2 (21 steps per epoch); read every 3
            out = {k: v * math.inf for k, v in out.items()}
        return out

    monkeypatch.setattr(VAE, "loss", diverging)
    with pytest.raises(TrainingError, match="stopped after 3 consecutive non-finite or skipped steps"):
        vaekit.train(tiny_config(tmp_path, epochs=3, max_nonfinite=3))
    run = tmp_path / "tiny"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "stopped" and "non-finite" in info["error"]
    ckpt = load_checkpoint(run)
    assert ckpt.meta["state"]["step"] == 33 and ckpt.meta["state"]["nonfinite_total"] == 3
    model = vaekit.load(run, "last")
    assert all_finite(model.state_dict())
    assert all(torch.equal(ckpt.model[k], v) for k, v in model.state_dict().items())
    monkeypatch.undo()  # the cause is fixed: the run resumes from the stop and finishes
    assert resume(run).info["status"] == "finished"


@pytest.mark.parametrize("lr", [1e38, 1e30])
def test_an_exploding_lr_never_leaves_nonfinite_weights_and_resumes(tmp_path, lr):
    with pytest.raises(TrainingError, match="saved the last good weights"):
        vaekit.train(tiny_config(tmp_path, epochs=2, lr=lr))
    run = tmp_path / "tiny"
    for name in ("model.safetensors", "best.safetensors"):
        if (run / name).exists():
            assert all_finite(load_tensors(run / name)), name
    ckpt = load_checkpoint(run)
    assert all_finite(ckpt.model) and all_finite(ckpt.tensors)
    done = resume(run, [("train.lr", 1e-3)])
    assert done.info["status"] == "finished" and 0 < done.info["test"]["nelbo"] < 60
    assert all_finite(load_tensors(run / "model.safetensors"))


def test_weights_that_turn_nonfinite_roll_back_before_a_save(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.remember_good()
    good = copy.deepcopy(trainer.model.state_dict())
    with torch.no_grad():
        trainer.stepper.params[0][0, 0] = math.inf
    assert trainer.ensure_finite() and trainer.state.rollbacks == 1
    assert all(torch.equal(good[k], v) for k, v in trainer.model.state_dict().items())
    assert not trainer.ensure_finite()  # finite now: nothing to do


def test_an_epoch_whose_every_step_was_skipped_is_an_error(tmp_path, monkeypatch):
    loss = VAE.loss
    monkeypatch.setattr(VAE, "loss", lambda self, x, y=None, ctx=None: {
        k: v * math.nan for k, v in loss(self, x, y, ctx).items()})
    trainer = make_trainer(tmp_path, max_nonfinite=10_000)
    with pytest.raises(TrainingError, match="every step was skipped"):
        trainer.fit()


def test_a_diverging_run_is_flagged_in_the_metrics_and_the_log(tmp_path, caplog):
    trainer = make_trainer(tmp_path, epochs=2, lr=50.0)
    with caplog.at_level(logging.WARNING, logger="vaekit.train.loop"):
        history = trainer.fit()
    assert any(row["diverging"] for row in history)
    assert "training is diverging" in caplog.text
    calm = make_trainer(tmp_path / "calm", epochs=2)
    assert not any(row["diverging"] for row in calm.fit())


@pytest.mark.parametrize("lr", [math.nan, math.inf, 0.0, -1e-3])
def test_lr_must_be_finite_and_positive(lr):
    with pytest.raises(ConfigError, match="train.lr"):
        TrainConfig(lr=lr)
    with pytest.raises(ConfigError, match="train.lr"):
        from_dict(RunConfig, {"train": {"lr": lr}})


def test_tally_read_lazily_still_sees_a_streak_that_ended():
    tally = Tally(CPU, limit=3)
    for step, flag in enumerate([False, True, True, True, False], 1):
        tally.add(torch.ones(4), torch.tensor(flag), 10)
        tally.check(step)  # read at step 3 only (a streak of 2 so far): steps 2-4 end before the next read
    with pytest.raises(TrainingError, match="stopped after 3 consecutive"):
        tally.check(6)
    assert tally.skipped == 3 and tally.sums.tolist() == [20.0] * 5


def test_tally_sums_only_the_steps_taken():
    tally = Tally(CPU, limit=5)
    for i, flag in enumerate([False, True, False, True, True, False, False]):
        terms = torch.tensor([1.0, 2.0, 3.0, float(i)]) if not flag else torch.full((4,), math.nan)
        tally.add(terms, torch.tensor(flag), 8)
        tally.check(i + 1)
    assert tally.sums.tolist() == [32.0, 64.0, 96.0, 8.0 * (0 + 2 + 5 + 6), 32.0]
    assert tally.counts.tolist() == [3, 0, 2]  # skipped; streak now; longest since the read at step 5


def test_log_variances_are_kept_in_a_safe_range():
    mu = torch.zeros(2, 3)
    for logvar in (torch.full((2, 3), 1e4), torch.full((2, 3), -1e4)):
        q = DiagonalGaussian(mu, logvar)
        assert torch.isfinite(q.kl()).all() and torch.isfinite(q.rsample()).all()
        assert torch.isfinite(q.log_prob(torch.ones(2, 3))).all()
