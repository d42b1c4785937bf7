"""One optimizer step with a non-finite guard that costs no host synchronization on the GPU.

The step follows vdvae's ``training_step``: forward, backward, a gradient probe (the norm, clipped,
when ``train.grad_clip`` is set; else the sum of all gradient entries), and the update is skipped
when the loss or the probe is NaN or infinite. On CUDA the skip happens on the device: Adam runs
fused and reads an on-device ``found_inf`` flag (the protocol ``torch.amp.GradScaler`` uses), so
parameters, moments and the step count stay untouched without a ``.item()`` per step. On CPU
the loss terms and the probe come to Python in one transfer (a handful of tensor operations fewer
than deciding with tensors), and the Adam step is simply not taken. Skips are counted by
:mod:`vaekit.train.tally`.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from ..device import autocast
from ..models import VAE, LossContext
from .distributed import Dist, average_grads

TERMS = ("loss", "nelbo", "rate", "distortion")
#: Gradients with at least this many entries are summed by a hook during backward (see Stepper.recording).
HOT_SUM_MIN = 1 << 14


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


def skip_on_device(opt: torch.optim.Optimizer, bad: torch.Tensor) -> None:
    """``opt.step()``, which fused Adam turns into a no-op on the device when ``bad`` (0-d bool)."""
    opt.found_inf = bad.float()
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
        self.sums: list[torch.Tensor] = []  # sums of the large gradients taken during backward (recording)
        self.summed_after = self.params  # the gradients grad_probe sums after backward

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None,
                 ctx: LossContext) -> tuple[torch.Tensor | list[float], torch.Tensor | bool]:
        """Returns the detached ``TERMS`` and the skip flag.

        On the device path the terms are a ``(4,)`` float32 tensor and the flag a 0-d bool tensor,
        both on the device (no host synchronization); on the host path they are four Python floats
        and a Python bool, from one host transfer of the terms and the probe together.
        """
        with autocast(self.device, self.precision):
            out = self.loss_fn(x, y, ctx)
        loss = out["loss"]
        self.opt.zero_grad(set_to_none=True)
        self.sums.clear()
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        with torch.no_grad():
            terms, bad = self.guarded_update([out[t] for t in TERMS], self.grad_probe())
        if self.scaler is not None:
            self.scaler.update()
        self.aux_step(bad)
        return terms, bad

    def guarded_update(self, terms: list[torch.Tensor],
                       probe: list[torch.Tensor]) -> tuple[torch.Tensor | list[float], torch.Tensor | bool]:
        """Adam step unless the loss (``terms[0]``; ignored under DDP, where it differs per rank) or the
        probe is non-finite. Returns the terms (see :meth:`__call__`) and the skip flag.

        The host path runs between backward and the next forward, after the step's kernels have
        streamed megabytes through the caches, and its small operations cost more there than alone:
        timed inside MLP steps on 2 threads the stack took 13-17 us and the transfer 5-7 us, both
        together 3 us in a timeit loop. So it does as few as it can: one stack, one transfer, and the
        terms go to :class:`~vaekit.train.tally.HostTally` as floats, not converted again.
        """
        if self.on_device:
            total = torch.stack(probe).sum()
            bad = ~torch.isfinite(total if self.dist.active else total + terms[0])
            skip_on_device(self.opt, bad)
            return torch.stack(terms).float(), bad
        values = torch.stack(terms + probe).tolist()  # 4 + P floats: one host transfer per step
        n = len(TERMS)
        bad = not math.isfinite(sum(values[n:], 0.0 if self.dist.active else values[0]))
        if not bad:
            self.opt.step()
        return values[:n], bad

    def grad_probe(self) -> list[torch.Tensor]:
        """0-d tensors whose sum is non-finite when any gradient is.

        With ``grad_clip`` set it is the total gradient norm (and gradients are clipped to it).
        Otherwise it is the sum of each gradient's entries: NaN and infinities propagate through a
        sum, which reads each gradient once like a norm does but runs on the vectorized reduction
        kernel (a third of the norm's time on 2 CPU threads) and, unlike a squared norm, cannot
        overflow for finite gradients below ~1e38 / numel. The caller adds them up (on the host in
        float64 Python arithmetic). Inside :meth:`recording` the large gradients were summed during
        backward. The small ones (biases, heads) are concatenated and summed in one reduction: two
        operations instead of one per tensor (for the 784-400-20 MLP's six, 14 instead of 33 us when
        timed alone; within the noise of a whole step).
        """
        if self.grad_clip is not None:
            return [torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip, foreach=True)]
        grads = [p.grad for p in self.summed_after if p.grad is not None]
        sums = self.sums + [g.sum() for g in grads if g.numel() >= HOT_SUM_MIN]
        small = [g.reshape(-1) for g in grads if g.numel() < HOT_SUM_MIN]
        if small:
            sums.append(torch.cat(small).sum())
        return sums or [torch.zeros((), device=self.device)]

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Sum each large gradient as soon as backward has accumulated it, while it is still in cache.

        Reading the gradients again after backward costs a pass over memory that the bare loop does
        not pay (~0.1 ms per step of the 784-400-20 MLP on one CPU thread: about 2% of the step);
        read right after they are written they come from the core's cache. Gradients smaller than
        ``HOT_SUM_MIN`` entries are cheaper to sum afterwards than to hook. Used by the training
        loop for a whole epoch; not under DDP (the probe must see the all-reduced gradients, which
        exist only after backward) nor with ``grad_clip`` (the norm is needed anyway).
        """
        if self.dist.active or self.grad_clip is not None:
            yield
            return
        hooked = [p for p in self.params if p.numel() >= HOT_SUM_MIN]
        record = self.sums.append
        handles = [p.register_post_accumulate_grad_hook(lambda p: record(p.grad.sum())) for p in hooked]
        self.summed_after = [p for p in self.params if p.numel() < HOT_SUM_MIN]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
            self.sums.clear()
            self.summed_after = self.params

    def aux_step(self, bad: torch.Tensor | bool) -> None:
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
        if self.on_device:
            skip_on_device(self.aux_opt, bad | ~torch.isfinite(aux_loss))
        elif not bad and math.isfinite(aux_loss.item()):
            self.aux_opt.step()

    def set_lr(self, lr: float) -> None:
        for opt in (self.opt, self.aux_opt):
            for group in (opt.param_groups if opt is not None else []):
                group["lr"] = lr
