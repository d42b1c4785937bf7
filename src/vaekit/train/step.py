"""One training step, after vdvae's ``training_step``: forward, backward, gradient norm, guarded update.

The update is skipped when the loss or the gradient norm is not finite, or the norm exceeds
``train.skip_threshold``. Fused Adam reads the skip flag as ``found_inf`` (``torch.amp.GradScaler``'s
protocol) on the device, so a step never waits for the host, on CPU and CUDA alike.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..device import autocast
from ..models import VAE, LossContext
from .config import TrainConfig
from .distributed import Dist, average_grads

TERMS = ("loss", "nelbo", "rate", "distortion")


def adam(params: list[nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam fused into one kernel (CPU and CUDA), which honours ``found_inf``."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def guarded_step(opt: torch.optim.Optimizer, bad: torch.Tensor) -> None:
    """``opt.step()``, which fused Adam turns into a no-op on the device when ``bad`` (0-d bool) is set."""
    opt.found_inf = bad.float()
    opt.step()


class Stepper:
    """Forward, backward and a guarded update for one batch.

    Args:
        model: the VAE (its auxiliary parameters get their own optimizer).
        loss_fn: ``model.loss``, possibly wrapped by DDP (:class:`~.distributed.LossModule`) and/or
            torch.compile.
        cfg: lr, grad_clip, skip_threshold and precision are read from it.
        dist: the process group. Under DDP the gradients are already averaged, so the norm, and with
            it the skip decision, is the same on every rank (the per-rank loss is then not consulted).
    """

    def __init__(self, model: VAE, loss_fn: nn.Module, cfg: TrainConfig, device: torch.device, dist: Dist) -> None:
        self.model, self.loss_fn, self.device, self.dist = model, loss_fn, device, dist
        self.params, self.aux_params = model.main_parameters(), model.auxiliary_parameters()
        self.opt = adam(self.params, cfg.lr)
        self.aux_opt = adam(self.aux_params, cfg.lr) if self.aux_params else None
        self.grad_clip, self.precision = cfg.grad_clip, cfg.precision
        self.skip_threshold = math.inf if cfg.skip_threshold is None else cfg.skip_threshold
        self.scaler = torch.amp.GradScaler(device.type) if cfg.precision == "fp16" else None

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, ctx: LossContext,
                 x_in: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step on batch ``x (B, *shape)`` (the encoder sees ``x_in`` when given: a corrupted copy).
        Returns the detached ``TERMS`` ``(4,)`` float32 and the skip flag (0-d bool), both on the device."""
        with autocast(self.device, self.precision):
            out = self.loss_fn(x, y, ctx) if x_in is None else self.loss_fn(x, y, ctx, x_in)
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is None:
            out["loss"].backward()
        else:
            self.scaler.scale(out["loss"]).backward()
            self.scaler.unscale_(self.opt)
        terms = torch.stack([out[t].detach() for t in TERMS]).float()
        norm = self.clip()
        bad = ~torch.isfinite(norm if self.dist.active else norm + terms[0]) | (norm > self.skip_threshold)
        guarded_step(self.opt, bad)
        if self.scaler is not None:
            self.scaler.update()
        self.aux_step(bad)
        return terms, bad

    def clip(self) -> torch.Tensor:
        """The total gradient norm (0-d), after clipping the gradients to ``grad_clip`` when it is set."""
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads, foreach=True)
        if self.grad_clip is not None:
            torch.nn.utils.clip_grads_with_norm_(self.params, self.grad_clip, norm, foreach=True)
        return norm

    def aux_step(self, bad: torch.Tensor) -> None:
        """Update the auxiliary networks (e.g. the FactorVAE discriminator) on their own loss."""
        if self.aux_opt is None:
            return
        with autocast(self.device, self.precision):
            aux_loss = self.model.auxiliary_loss()
        if aux_loss is None:
            return
        self.aux_opt.zero_grad(set_to_none=True)
        aux_loss.backward()
        average_grads(self.aux_params, self.dist)
        guarded_step(self.aux_opt, bad | ~torch.isfinite(aux_loss.detach()))

    def set_lr(self, lr: float) -> None:
        for opt in (self.opt, self.aux_opt):
            for group in (opt.param_groups if opt is not None else []):
                group["lr"] = lr
