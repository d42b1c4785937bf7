"""The training loop: a short step (skip non-finite updates, vdvae-style) and an epoch driver."""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..data import Dataset, Preprocessor, Splits, batch_indices, n_batches
from ..errors import TrainingError
from ..evaluate.likelihood import elbo_stats
from ..models import VAE, LossContext
from .config import TrainConfig
from .schedules import KLSchedule

log = logging.getLogger(__name__)
TERMS = ("loss", "nelbo", "rate", "distortion")


@dataclass
class TrainState:
    """Counters that a resumed run continues from."""

    epoch: int = 0
    step: int = 0
    best_val: float = math.inf
    best_epoch: int = -1
    nonfinite_total: int = 0
    nonfinite_run: int = 0
    history: list = field(default_factory=list)


def make_schedule(cfg: TrainConfig, steps_per_epoch: int) -> KLSchedule:
    return KLSchedule(kind=cfg.kl_schedule, kl_max=cfg.kl_max,
                      warmup_steps=int(round(cfg.warmup_epochs * steps_per_epoch)),
                      total_steps=cfg.epochs * steps_per_epoch, n_cycles=cfg.n_cycles, cycle_ratio=cfg.cycle_ratio)


def train_step(model: VAE, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor | None,
               ctx: LossContext, grad_clip: float | None,
               aux_opt: torch.optim.Optimizer | None = None) -> dict[str, torch.Tensor] | None:
    """One update. Returns the loss terms, or None when the loss or gradient was non-finite
    (the update is then skipped and the parameters are unchanged)."""
    out = model.loss(x, y, ctx)
    opt.zero_grad(set_to_none=True)
    out["loss"].backward()
    norm = torch.nn.utils.clip_grad_norm_(model.main_parameters(), grad_clip or math.inf)
    if not bool(torch.isfinite(out["loss"]) & torch.isfinite(norm)):
        opt.zero_grad(set_to_none=True)
        return None
    opt.step()
    if aux_opt is not None:
        aux_loss = model.auxiliary_loss()
        if aux_loss is not None:
            aux_opt.zero_grad(set_to_none=True)
            aux_loss.backward()
            aux_opt.step()
            out["aux_loss"] = aux_loss.detach()
    return out


class Trainer:
    """Runs epochs over in-memory data; ``on_epoch_end`` callbacks persist what they need."""

    def __init__(self, model: VAE, splits: Splits, pre: Preprocessor, cfg: TrainConfig,
                 device: torch.device, state: TrainState | None = None) -> None:
        self.model, self.splits, self.pre, self.cfg, self.device = model, splits, pre, cfg, device
        self.opt = torch.optim.Adam(model.main_parameters(), lr=cfg.lr)
        aux = model.auxiliary_parameters()
        self.aux_opt = torch.optim.Adam(aux, lr=cfg.lr) if aux else None
        self.state = state or TrainState()
        self.steps_per_epoch = n_batches(len(splits.train), cfg.batch_size)
        self.schedule = make_schedule(cfg, self.steps_per_epoch)
        self.data_gen = torch.Generator().manual_seed(cfg.seed)
        self.on_epoch_end: list[Callable[["Trainer", dict], None]] = []
        self.train_x = splits.train.x.to(device)
        self.train_y = None if splits.train.y is None else splits.train.y.to(device)

    def ctx(self) -> LossContext:
        return LossContext(kl_weight=self.schedule(self.state.step), free_bits=self.cfg.free_bits,
                           free_bits_group=self.cfg.free_bits_group, step=self.state.step)

    def run_epoch(self, bar=None) -> dict[str, float]:
        """One pass over the training data; returns mean train terms."""
        self.model.train()
        sums = torch.zeros(len(TERMS), device=self.device)
        seen = 0
        for idx in batch_indices(len(self.splits.train), self.cfg.batch_size, True, self.data_gen):
            idx = idx.to(self.device)
            x = self.pre(self.train_x[idx], train=True)
            y = None if self.train_y is None else self.train_y[idx]
            out = train_step(self.model, self.opt, x, y, self.ctx(), self.cfg.grad_clip, self.aux_opt)
            self.state.step += 1
            if bar is not None:
                bar.update(1)
            if out is None:
                self._count_nonfinite()
                continue
            self.state.nonfinite_run = 0
            sums += torch.stack([out[t].detach() for t in TERMS]) * len(idx)
            seen += len(idx)
        means = (sums / max(seen, 1)).tolist()
        return {f"train_{t}": v for t, v in zip(TERMS, means)}

    def _count_nonfinite(self) -> None:
        self.state.nonfinite_total += 1
        self.state.nonfinite_run += 1
        log.warning("non-finite loss or gradient at step %d: update skipped", self.state.step)
        if self.state.nonfinite_run >= self.cfg.max_nonfinite:
            raise TrainingError(f"stopped after {self.state.nonfinite_run} consecutive non-finite steps "
                                f"(step {self.state.step}); lower train.lr or set train.grad_clip")

    def validate(self, ds: Dataset | None) -> dict[str, float]:
        if ds is None:
            return {}
        stats = elbo_stats(self.model, ds, self.pre, self.cfg.eval_batch_size, self.device)
        return {f"val_{k}": v for k, v in stats.items()}

    def fit(self) -> list[dict]:
        """Train from ``state.epoch`` to ``cfg.epochs``; returns the metrics history."""
        total = (self.cfg.epochs - self.state.epoch) * self.steps_per_epoch
        with _progress(total, self.cfg.progress) as bar:
            while self.state.epoch < self.cfg.epochs:
                t0 = time.perf_counter()
                row = {"epoch": self.state.epoch + 1, **self.run_epoch(bar)}
                row.update(self.validate(self.splits.val))
                row.update(step=self.state.step, kl_weight=self.schedule(self.state.step),
                           skipped_steps=self.state.nonfinite_total, seconds=time.perf_counter() - t0)
                self.state.epoch += 1
                self._track_best(row)
                self.state.history.append(row)
                if bar is not None:
                    bar.set_postfix(nelbo=f"{row['train_nelbo']:.2f}", val=f"{row.get('val_nelbo', math.nan):.2f}")
                for callback in self.on_epoch_end:
                    callback(self, row)
        return self.state.history

    def _track_best(self, row: dict) -> None:
        score = row.get("val_nelbo", row["train_nelbo"])
        row["best"] = score < self.state.best_val
        if row["best"]:
            self.state.best_val, self.state.best_epoch = score, row["epoch"]


class _NullBar:
    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


def _progress(total: int, enabled: bool):
    """A tqdm bar on stderr when it is a terminal and progress is enabled."""
    if not enabled or not sys.stderr.isatty():
        return _NullBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", dynamic_ncols=True, leave=False)
