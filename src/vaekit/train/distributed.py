"""Multi-process training on ``torch.distributed`` (launched by ``torchrun``).

``torchrun --nproc_per_node N -m vaekit train ...`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
:func:`setup` joins the process group (NCCL on GPUs, gloo on CPU). Gradients are averaged by
``DistributedDataParallel``; every rank draws the same per-epoch permutation from the shared
data-order generator and keeps its strided shard (what ``DistributedSampler`` does, on index
tensors); metrics are summed with ``all_reduce``; only rank 0 writes files.

``train.batch_size`` is the global batch: each of W processes takes ``batch_size / W`` examples per
step, so a run on W processes optimizes the same objective as one process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class Dist:
    """This process's place in the job (a single process is rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    owns_group: bool = False

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def env_world() -> tuple[int, int]:
    """(rank, world size) from the torchrun environment; (0, 1) outside torchrun."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def is_main_process() -> bool:
    return env_world()[0] == 0


def setup(device: torch.device) -> Dist:
    """Join the process group when launched by torchrun with more than one process."""
    rank, world = env_world()
    if world <= 1:
        return Dist()
    if dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size(), owns_group=False)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend)
    log.info("rank %d of %d joined (%s on %s)", rank, world, backend, device)
    return Dist(dist.get_rank(), dist.get_world_size(), owns_group=True)


def teardown(d: Dist) -> None:
    if d.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def local_batch(batch_size: int, d: Dist) -> int:
    """Per-process batch size for a global ``batch_size``."""
    if batch_size % d.world:
        raise ConfigError(f"train.batch_size {batch_size} must be divisible by the {d.world} processes")
    return batch_size // d.world


def shard(order: torch.Tensor, d: Dist) -> torch.Tensor:
    """This rank's share of a permutation: padded to a multiple of W, then every W-th index.

    Batch k of every rank together is exactly chunk k of the (padded) global permutation.
    """
    if not d.active:
        return order
    pad = -len(order) % d.world
    if pad:
        order = torch.cat([order, order[:pad]])
    return order[d.rank::d.world]


def all_reduce_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum ``t`` over ranks in place (no-op for one process); returns ``t``."""
    if d.active:
        dist.all_reduce(t)
    return t


def average_grads(params: list[nn.Parameter], d: Dist) -> None:
    """Average gradients over ranks (for parameters outside DDP, e.g. an auxiliary network)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not d.active or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= d.world
    for g, part in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(part.view_as(g))


def broadcast_flag(flag: bool, d: Dist, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every rank."""
    if not d.active:
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.broadcast(t, 0)
    return bool(t.item())


def broadcast_text(text: str, d: Dist, device: torch.device) -> str:
    """Rank 0's ``text`` (e.g. the run directory it created) on every rank; no pickling."""
    if not d.active:
        return text
    data = torch.tensor(list(text.encode()) if d.main else [], dtype=torch.uint8, device=device)
    size = torch.tensor([data.numel()], device=device)
    dist.broadcast(size, 0)
    if not d.main:
        data = torch.empty(int(size.item()), dtype=torch.uint8, device=device)
    dist.broadcast(data, 0)
    return bytes(data.cpu().tolist()).decode()


def gather(t: torch.Tensor, d: Dist) -> list[torch.Tensor]:
    """Every rank's ``t`` (same shape and dtype on all ranks), as CPU tensors in rank order."""
    if not d.active:
        return [t.cpu()]
    parts = [torch.empty_like(t) for _ in range(d.world)]
    dist.all_gather(parts, t)
    return [p.cpu() for p in parts]


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


class LossModule(nn.Module):
    """``forward(x, y, ctx, x_in) = model.loss(x, y, ctx, x_in)``: the module DDP wraps."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, y: torch.Tensor | None, ctx,
                x_in: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.model.loss(x, y, ctx, x_in)


def wrap_ddp(module: nn.Module, d: Dist, device: torch.device, ignore: list[str]) -> nn.Module:
    """``DistributedDataParallel`` around ``module``; parameters named in ``ignore`` are left out."""
    if not d.active:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    if ignore:
        DDP._set_params_and_buffers_to_ignore_for_model(module, ignore)
    ids = [device.index] if device.type == "cuda" else None
    return DDP(module, device_ids=ids)
