"""One optimizer step with a non-finite guard that costs no host synchronization on the GPU.

The step follows vdvae's ``training_step``: forward, backward, a gradient probe (the norm, clipped,
when ``train.grad_clip`` is set; else the sum of all gradient entries), and the update is skipped
when the loss or the probe is NaN or infinite. On CUDA the skip happens on the device: Adam runs
fused and reads an on-device ``found_inf`` flag (the protocol ``torch.amp.GradScaler`` uses), so
parameters, moments and the step count stay untouched without a ``.item()`` per step. On CPU
reading the flag costs nothing, so the Adam step is simply not taken. Skips are counted by
:mod:`vaekit.train.tally`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..device import autocast
from ..models import VAE, LossContext
from .distributed import Dist, average_grads

TERMS = ("loss", "nelbo", "rate", "distortion")


class LossModule(nn.Module):
    """``forward(x, y, ctx) = model.loss(x, y, ctx)``: the module DDP and torch.compile wrap."""

    def __init__(self, model: VAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, y: torch.Tensor | None, ctx: LossContext) -> dict[str, torch.Tensor]:
        return self.model.loss(x, y, ctx)


def adam(params: list[nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam, fused into one kernel per parameter group where PyTorch has one (CPU and CUDA floats).

    The fused kernel computes the same update as the default multi-tensor one (not bit for bit) in a
    single pass over parameters, gradients and moments: about 1.5 ms less per step for the
    784-400-20 MLP on one CPU thread, and it honours an on-device ``found_inf`` flag (the skip
    without a host sync on CUDA).
    """
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.Adam(params, lr=lr, fused=fused or None)


def guarded_step(opt: torch.optim.Optimizer, bad: torch.Tensor, on_device: bool) -> None:
    """``opt.step()`` unless ``bad``: decided on the device (fused Adam) or on the host (CPU)."""
    if on_device:
        opt.found_inf = bad.float()
        opt.step()
    elif not bad:
        opt.step()


class Stepper:
    """Forward, backward and a guarded update for one batch.

    Args:
        model: the VAE (its auxiliary parameters get their own optimizer).
        loss_fn: ``model``'s :class:`LossModule`, possibly wrapped by DDP and/or torch.compile.
        lr, grad_clip, precision: from the train config.
        dist: the process group (gradients of DDP are already averaged; the skip decision then uses
            only the all-reduced gradients' probe, which is identical on every rank).
        skip_on_device: skip through fused Adam's ``found_inf`` (default: on CUDA).
    """

    def __init__(self, model: VAE, loss_fn: nn.Module, lr: float, grad_clip: float | None,
                 precision: str, device: torch.device, dist: Dist, skip_on_device: bool | None = None) -> None:
        self.model, self.loss_fn, self.grad_clip = model, loss_fn, grad_clip
        self.on_device = device.type == "cuda" if skip_on_device is None else skip_on_device
        self.params = model.main_parameters()
        self.aux_params = model.auxiliary_parameters()
        self.opt = adam(self.params, lr)
        self.aux_opt = adam(self.aux_params, lr) if self.aux_params else None
        self.precision, self.device, self.dist = precision, device, dist
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, ctx: LossContext) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the detached ``TERMS`` ``(4,)`` and the skip flag (0-d bool), both on the device."""
        with autocast(self.device, self.precision):
            out = self.loss_fn(x, y, ctx)
        loss = out["loss"]
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        probe = self.grad_probe()
        bad = ~torch.isfinite(probe if self.dist.active else probe + loss.detach())
        guarded_step(self.opt, bad, self.on_device)
        if self.scaler is not None:
            self.scaler.update()
        self.aux_step(bad)
        with torch.no_grad():
            return torch.stack([out[t] for t in TERMS]).float(), bad

    def grad_probe(self) -> torch.Tensor:
        """A 0-d tensor that is non-finite when any gradient is.

        With ``grad_clip`` set it is the total gradient norm (and gradients are clipped to it).
        Otherwise it is the sum of all gradient entries: NaN and infinities propagate through a sum,
        which reads each gradient once like a norm does but runs on the vectorized, multi-threaded
        reduction kernel (a third of the norm's time on 2 CPU threads) and, unlike a squared norm,
        cannot overflow for finite gradients below ~1e38 / numel.
        """
        if self.grad_clip is not None:
            return torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip, foreach=True)
        sums = [p.grad.sum().float() for p in self.params if p.grad is not None]
        return torch.stack(sums).sum() if sums else torch.zeros((), device=self.device)

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
        guarded_step(self.aux_opt, bad | ~torch.isfinite(aux_loss), self.on_device)

    def set_lr(self, lr: float) -> None:
        for opt in (self.opt, self.aux_opt):
            for group in (opt.param_groups if opt is not None else []):
                group["lr"] = lr
