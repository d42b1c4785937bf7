"""The training loop: epochs over in-memory tensors, guarded steps, checkpoints, distributed ranks.

A batch is an index slice of one per-epoch permutation (drawn from the data-order generator), so no
per-sample Python runs. Everything the loop depends on is in its checkpoint (see
:mod:`vaekit.train.checkpoint`): a run killed at any step and resumed produces the same weights,
bit for bit on CPU, as a run that was never interrupted.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..config import to_dict
from ..data import Dataset, LabelledBatches, Preprocessor, Splits
from ..data.corrupt import check_corruptions, corrupt
from ..device import as_channels_last, check_precision, place_model, use_channels_last
from ..errors import CheckpointError, TrainingError
from ..evaluate.latent_stats import classification_counts
from ..evaluate.likelihood import elbo_stats, model_bpd
from ..models import VAE, LossContext
from ..progress import format_seconds, task
from ..run import check_every_label
from .checkpoint import (Checkpoint, flatten_optimizer, host_rng_state, save_checkpoint, set_host_rng_state,
                         unflatten_optimizer)
from .config import TrainConfig
from .distributed import Dist, LossModule, all_reduce_sum, broadcast_flag, gather, local_batch, shard, wrap_ddp
from ..schedules import KLSchedule
from .step import TERMS, Stepper
from .tally import Tally

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    """Counters that a resumed run continues from (saved as JSON in every checkpoint).

    Attributes:
        epoch: completed epochs.
        step: optimizer steps taken (skipped ones included).
        batch: batches done in the current epoch (a mid-epoch checkpoint resumes there).
        best_val, best_epoch: best validation negative ELBO so far and its epoch.
        nonfinite_total: skipped (non-finite) steps so far.
        rollbacks: times the weights were found non-finite and restored to the last good state.
        reference_nelbo: the training -ELBO of the first update (the untrained model); an epoch that
            ends above it is flagged as diverging.
        history: the metrics rows of completed epochs.
    """

    epoch: int = 0
    step: int = 0
    batch: int = 0
    best_val: float = math.inf
    best_epoch: int = -1
    nonfinite_total: int = 0
    rollbacks: int = 0
    reference_nelbo: float | None = None
    history: list = field(default_factory=list)


def make_schedule(cfg: TrainConfig, steps_per_epoch: int) -> KLSchedule:
    return KLSchedule(kind=cfg.kl_schedule, kl_max=cfg.kl_max,
                      warmup_steps=int(round(cfg.warmup_epochs * steps_per_epoch)),
                      total_steps=cfg.epochs * steps_per_epoch, n_cycles=cfg.n_cycles, cycle_ratio=cfg.cycle_ratio)


def build_loss_fn(model: VAE, cfg: TrainConfig, device: torch.device, d: Dist) -> Callable:
    """``model.loss``; with several processes its :class:`LossModule` in DDP; compiled on request."""
    fn = model.loss
    if d.active:
        aux = {id(p) for p in model.auxiliary_parameters()}
        ignore = [f"model.{name}" for name, p in model.named_parameters() if id(p) in aux]
        fn = wrap_ddp(LossModule(model), d, device, ignore)
    return torch.compile(fn) if cfg.compile else fn


class Trainer:
    """Runs epochs over in-memory data.

    ``on_epoch_end(trainer, row)`` callbacks (rank 0 only, set by the caller) persist metrics and
    weights; ``on_step_end(trainer, terms, skipped)`` callbacks see every step's ``TERMS`` (a ``(4,)``
    tensor on the device: bring it to the host only when needed, e.g. every N steps) and its skip flag.
    When ``checkpoint_dir`` is set, a checkpoint is written at every epoch end and, within epochs,
    every ``train.checkpoint_every`` steps or ``train.checkpoint_minutes`` minutes. Progress: a bar
    on a terminal, else a heartbeat line inside long epochs; one log line per epoch (rank 0).
    """

    def __init__(self, model: VAE, splits: Splits, pre: Preprocessor, cfg: TrainConfig,
                 device: torch.device, state: TrainState | None = None, dist: Dist | None = None) -> None:
        check_precision(cfg.precision, device)
        check_corruptions(cfg.corrupt, model.sample_shape, pre.mean is not None)
        for split in ("train", "val", "test"):  # the test split too: the finished run is scored on it
            check_every_label(model, getattr(splits, split), split)
        if cfg.corrupt:
            model.check_denoising()
        self.model, self.splits, self.pre, self.cfg, self.device = model, splits, pre, cfg, device
        self.dist = dist or Dist()
        self.state = state or TrainState()
        self.batch_size = local_batch(cfg.batch_size, self.dist)
        self.steps_per_epoch = math.ceil(math.ceil(len(splits.train) / self.dist.world) / self.batch_size)
        self.schedule = make_schedule(cfg, self.steps_per_epoch)
        self.channels_last = use_channels_last(model, device, cfg.channels_last)
        place_model(model, device, self.channels_last)
        self.stepper = Stepper(model, build_loss_fn(model, cfg, device, self.dist), cfg, device, self.dist)
        self.tally = Tally(device, cfg.max_nonfinite)
        self.good: tuple | None = None  # (weights, optimizer states) to roll back to, see remember_good
        self.good_step = 0  # the step at which they were taken
        self.data_gen = torch.Generator().manual_seed(cfg.seed)
        self.epoch_rng = self.data_gen.get_state()
        self.on_epoch_end: list[Callable[["Trainer", dict], None]] = []
        self.on_step_end: list[Callable[["Trainer", torch.Tensor, torch.Tensor], None]] = []
        self.checkpoint_dir: Path | None = None
        self.last_checkpoint = time.monotonic()
        self.train_x = splits.train.x.to(device)
        self.train_y = None if splits.train.y is None else splits.train.y.to(device)
        self.mix_labelled = LabelledBatches(self.train_y, cfg.labelled_per_batch, cfg.seed, self.dist.rank)

    @property
    def opt(self) -> torch.optim.Optimizer:
        return self.stepper.opt

    def ctx(self) -> LossContext:
        return LossContext(kl_weight=self.schedule(self.state.step), free_bits=self.cfg.free_bits,
                           free_bits_group=self.cfg.free_bits_group, step=self.state.step,
                           n_train=len(self.splits.train))

    def run_epoch(self, bar=None) -> dict[str, float]:
        """One pass over this rank's shard of the training data (from ``state.batch`` on); returns
        the mean train terms over all ranks, skipped steps excluded."""
        self.model.train()
        self.epoch_rng = self.data_gen.get_state()
        order = shard(torch.randperm(len(self.splits.train), generator=self.data_gen), self.dist).to(self.device)
        if self.state.batch == 0:
            self.tally.new_epoch()
        for idx in order.split(self.batch_size)[self.state.batch:]:
            self.train_step(idx, bar)
        self.state.batch = 0
        totals = all_reduce_sum(self.tally.sums.clone(), self.dist).tolist()
        if totals[-1] == 0:
            raise TrainingError(f"epoch {self.state.epoch + 1}: every step was skipped (non-finite loss or "
                                "gradients); check the data's scale and the likelihood, or lower train.lr")
        return {f"train_{t}": v / totals[-1] for t, v in zip(TERMS, totals)}

    def train_step(self, idx: torch.Tensor, bar=None) -> None:
        """One guarded step on the training examples ``idx`` ``(b,)``; counters, bar, checkpoint."""
        idx = self.mix_labelled(idx, self.state.step)  # (b + l,): labelled ones appended (semi-supervised)
        x = self.pre(self.train_x[idx], train=True)  # (b, *shape) float
        y = None if self.train_y is None else self.train_y[idx]
        x_in = corrupt(x, self.cfg.corrupt) if self.cfg.corrupt else None  # (b, *shape) x~, on the device
        if self.channels_last:
            x, x_in = as_channels_last(x), None if x_in is None else as_channels_last(x_in)
        terms, bad = self.stepper(x, y, self.ctx(), x_in)
        self.tally.add(terms, bad, len(idx))
        if self.state.reference_nelbo is None and not bool(bad):  # reads the host until the first update
            self.state.reference_nelbo = float(terms[1])
        self.state.step += 1
        self.state.batch += 1
        for callback in self.on_step_end:
            callback(self, terms, bad)
        if bar is not None:
            bar.update(1)
        self.tally.check(self.state.step)
        if self._checkpoint_due():
            self.save_checkpoint()

    def validate(self, ds: Dataset | None) -> dict[str, float]:
        """Validation terms (and, for models that classify, the error of q(y|x) on the labelled
        examples); with several processes each evaluates a strided shard and sums are reduced."""
        if ds is None:
            return {}
        part = ds.subset(torch.arange(self.dist.rank, len(ds), self.dist.world)) if self.dist.active else ds
        sums = torch.zeros(6, dtype=torch.float64)  # nelbo, rate, distortion, n, wrong, labelled
        if len(part):
            stats = elbo_stats(self.model, part, self.pre, self.cfg.eval_batch_size, self.device)
            sums[:4] = torch.tensor([stats["nelbo"], stats["rate"], stats["distortion"], 1.0]) * len(part)
            sums[4:] = torch.tensor(classification_counts(self.model, part.x, part.y, transform=self.pre,
                                                          batch_size=self.cfg.eval_batch_size))
        nelbo, rate, distortion, n, wrong, labelled = all_reduce_sum(sums.to(self.device), self.dist).tolist()
        row = {"val_nelbo": nelbo / n, "val_rate": rate / n, "val_distortion": distortion / n,
               "val_bpd": model_bpd(self.model, nelbo / n)}
        if labelled:
            row["val_classification_error"] = wrong / labelled
        return row

    def fit(self) -> list[dict]:
        """Train from the current state to ``cfg.epochs``; returns the metrics history."""
        total = (self.cfg.epochs - self.state.epoch) * self.steps_per_epoch - self.state.batch
        self.remember_good()
        start, first = time.perf_counter(), self.state.epoch
        desc = f"epoch {self.state.epoch + 1}/{self.cfg.epochs}"
        with task(max(total, 0), desc, "step", self.cfg.progress and self.dist.main) as bar:
            while self.state.epoch < self.cfg.epochs:
                row = self.fit_epoch(bar)
                if self.dist.main:
                    per_epoch = (time.perf_counter() - start) / (self.state.epoch - first)
                    log.info("%s", epoch_line(row, self.cfg.epochs, per_epoch))
        return self.state.history

    def fit_epoch(self, bar=None) -> dict:
        """Train one epoch, validate, run the callbacks, checkpoint; returns the metrics row."""
        if bar is not None:
            bar.set_description(f"epoch {self.state.epoch + 1}/{self.cfg.epochs}")
        t0 = time.perf_counter()
        row = {"epoch": self.state.epoch + 1, **self.run_epoch(bar)}
        self.tally.check(self.state.step, force=True)
        row.update(self.validate(self.splits.val))
        self.state.nonfinite_total = self.tally.skipped
        row.update(step=self.state.step, kl_weight=self.schedule(self.state.step),
                   skipped_steps=self.state.nonfinite_total, rolled_back=self.ensure_finite(),
                   seconds=time.perf_counter() - t0)
        self.state.epoch += 1
        self._track_best(row)
        self._check_divergence(row)
        self.state.history.append(row)
        if bar is not None:
            bar.set_postfix(nelbo=f"{row['train_nelbo']:.2f}", val=f"{row.get('val_nelbo', math.nan):.2f}")
        for callback in self.on_epoch_end:
            callback(self, row)
        self.save_checkpoint()
        self.remember_good()
        return row

    def _track_best(self, row: dict) -> None:
        score = row.get("val_nelbo", row["train_nelbo"])
        row["best"] = score < self.state.best_val
        if row["best"]:
            self.state.best_val, self.state.best_epoch = score, row["epoch"]

    def _check_divergence(self, row: dict) -> None:
        """Flag an epoch whose training -ELBO ended above the untrained model's (``row["diverging"]``);
        a validation -ELBO that rises while the training one falls is overfitting, not divergence."""
        score, ref = row["train_nelbo"], self.state.reference_nelbo
        row["diverging"] = ref is not None and not score <= ref
        if row["diverging"]:
            log.warning("epoch %d: -ELBO %.6g is above the untrained model's %.6g: training is diverging "
                        "(lower train.lr, set train.grad_clip or train.skip_threshold)", row["epoch"], score, ref)

    # --- the last good state ---------------------------------------------------------------------
    def remember_good(self) -> None:
        """Keep a copy of the weights and optimizer states, when they are finite, to roll back to."""
        if not self.weights_finite():
            return
        opts = [o.state_dict() for o in (self.stepper.opt, self.stepper.aux_opt) if o is not None]
        self.good = copy.deepcopy((self.model.state_dict(), opts))
        self.good_step = self.state.step

    def weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    def rollback(self) -> None:
        """Restore the weights and optimizer states kept by :meth:`remember_good`."""
        if self.good is None:
            raise TrainingError("the weights are not finite and there is no earlier state to restore")
        weights, opts = copy.deepcopy(self.good)  # the optimizers would otherwise alias the copy
        self.model.load_state_dict(weights)
        for opt, sd in zip([o for o in (self.stepper.opt, self.stepper.aux_opt) if o is not None], opts):
            opt.load_state_dict(sd)
        self.stepper.set_lr(self.cfg.lr)
        self.state.rollbacks += 1

    def ensure_finite(self) -> bool:
        """Roll back when a weight is NaN or infinite (so nothing non-finite is ever saved); True if it did."""
        if self.weights_finite():
            return False
        log.warning("step %d: non-finite weights; restored the last good state", self.state.step)
        self.rollback()
        return True

    # --- checkpoints ---------------------------------------------------------------------------
    def _checkpoint_due(self) -> bool:
        """Mid-epoch checkpoint now? (Never on an epoch's last batch: the epoch-end one follows.)"""
        if self.checkpoint_dir is None or self.state.batch >= self.steps_per_epoch:
            return False
        every, minutes = self.cfg.checkpoint_every, self.cfg.checkpoint_minutes
        if every and self.state.step % every == 0:
            return True
        if minutes and (not self.dist.active or self.state.step % 16 == 0):
            late = time.monotonic() - self.last_checkpoint >= 60 * minutes
            return broadcast_flag(late, self.dist, self.device)
        return False

    def save_checkpoint(self) -> None:
        """Write a checkpoint to ``checkpoint_dir`` (every rank takes part; rank 0 writes)."""
        if self.checkpoint_dir is None:
            return
        self.ensure_finite()
        ckpt = self.checkpoint_data()
        if self.dist.main:
            save_checkpoint(self.checkpoint_dir, ckpt)
        self.last_checkpoint = time.monotonic()

    def checkpoint_data(self) -> Checkpoint:
        """The complete training state as tensors + JSON (collective: RNG states of every rank)."""
        self.state.nonfinite_total = self.tally.skipped
        tensors, opt_meta = flatten_optimizer(self.stepper.opt.state_dict(), "opt")
        aux_meta = None
        if self.stepper.aux_opt is not None:
            aux_tensors, aux_meta = flatten_optimizer(self.stepper.aux_opt.state_dict(), "aux")
            tensors.update(aux_tensors)
        tensors.update(self._rng_tensors())
        tensors.update({f"tally.{k}": v for k, v in self.tally.state().items()})
        scaler = self.stepper.scaler
        meta = {"state": dataclasses.asdict(self.state), "optimizer": opt_meta, "aux_optimizer": aux_meta,
                "scaler": scaler.state_dict() if scaler is not None else None, "rng": host_rng_state(),
                "world_size": self.dist.world, "model_config": to_dict(self.model.config)}
        return Checkpoint(model=self.model.state_dict(), tensors=tensors, meta=meta)

    def _rng_tensors(self) -> dict[str, torch.Tensor]:
        """Data order (at the start of the current epoch, or now between epochs) and torch RNGs per rank."""
        out = {"rng.data": self.epoch_rng if self.state.batch else self.data_gen.get_state()}
        for r, t in enumerate(gather(torch.get_rng_state().to(self.device), self.dist)):
            out[f"rng.torch.{r}"] = t
        if self.device.type == "cuda":
            for r, t in enumerate(gather(torch.cuda.get_rng_state(self.device).to(self.device), self.dist)):
                out[f"rng.cuda.{r}"] = t
        return out

    def restore(self, ckpt: Checkpoint) -> None:
        """Continue exactly where ``ckpt`` was taken (weights must already match the model)."""
        meta, t = ckpt.meta, ckpt.tensors
        if meta.get("world_size", 1) != self.dist.world:
            raise CheckpointError(f"checkpoint was written by {meta.get('world_size')} process(es); "
                                  f"resume with the same number (now {self.dist.world})")
        try:
            self._restore(meta, t)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            raise CheckpointError(f"checkpoint state does not fit this run ({type(exc).__name__}: {exc})") from None

    def _restore(self, meta: dict, t: dict[str, torch.Tensor]) -> None:
        self.stepper.opt.load_state_dict(unflatten_optimizer(t, meta["optimizer"], "opt"))
        if self.stepper.aux_opt is not None:
            self.stepper.aux_opt.load_state_dict(unflatten_optimizer(t, meta["aux_optimizer"], "aux"))
        if self.stepper.scaler is not None and meta["scaler"]:
            self.stepper.scaler.load_state_dict(meta["scaler"])
        self.stepper.set_lr(self.cfg.lr)
        self.state = TrainState(**meta["state"])
        self.tally.load({k: t[f"tally.{k}"] for k in self.tally.state()})
        self.data_gen.set_state(t["rng.data"])
        torch.set_rng_state(t[f"rng.torch.{self.dist.rank}"])
        if self.device.type == "cuda" and f"rng.cuda.{self.dist.rank}" in t:
            torch.cuda.set_rng_state(t[f"rng.cuda.{self.dist.rank}"], self.device)
        set_host_rng_state(meta["rng"])


def epoch_line(row: dict, epochs: int, per_epoch: float) -> str:
    """One line per epoch: ``epoch 3/10  nelbo 45.12 (val 46.01)  rate ...  ETA 15 s``.

    Args:
        row: the epoch's metrics row; ``per_epoch``: wall seconds per epoch so far (for the ETA).
    """
    parts = [f"epoch {row['epoch']}/{epochs}"]
    for term in ("nelbo", "rate", "distortion"):
        val = row.get(f"val_{term}")
        parts.append(f"{term} {row[f'train_{term}']:.2f}" + (f" (val {val:.2f})" if val is not None else ""))
    if row.get("val_classification_error") is not None:
        parts.append(f"val error {100 * row['val_classification_error']:.2f}%")
    parts += [f"kl_weight {row['kl_weight']:.3g}", f"skipped {row['skipped_steps']}",
              f"{format_seconds(per_epoch)}/epoch", f"ETA {format_seconds(per_epoch * (epochs - row['epoch']))}"]
    return "  ".join(parts) + ("  *best" if row.get("best") else "")
