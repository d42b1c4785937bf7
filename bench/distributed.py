"""Training throughput on 1 vs N processes (DDP, gloo on CPU / NCCL on GPUs): vaekit vs a bare DDP loop.

For each process count the script launches itself under ``torchrun``; every worker trains the same
model (global batch ``--batch-size``, split over the processes) with vaekit's ``Trainer`` and with a
bare DDP loop (``DistributedDataParallel`` + ``DistributedSampler`` indices over the same uint8 tensor),
epochs interleaved as in ``train_throughput.py``. Rank 0 reports total images per second; the table
shows the ratio vaekit / bare and the speed-up over one process. On CPU the cores are shared out:
each process gets ``cores / N`` torch threads.

Usage::

    flock /tmp/vaekit-heavy.lock .venv/bin/python bench/distributed.py [--nprocs 1,2] [--models mlp,conv]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import MNIST, MODELS, build, load_images, sync, timed  # noqa: E402

from vaekit.data import Dataset, Preprocessor, Splits  # noqa: E402
from vaekit.device import resolve_device  # noqa: E402
from vaekit.train import distributed  # noqa: E402
from vaekit.train.config import TrainConfig  # noqa: E402
from vaekit.train.loop import Trainer  # noqa: E402
from vaekit.train.distributed import LossModule  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nprocs", default="1,2", help="comma-separated process counts")
    p.add_argument("--models", default="mlp,conv")
    p.add_argument("--images", type=int, default=20000, help="training images per epoch")
    p.add_argument("--batch-size", type=int, default=128, help="global batch")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL, one GPU per process)")
    p.add_argument("--data", default=str(MNIST))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


class BareDDP:
    """DDP as the PyTorch tutorial writes it: DistributedSampler indices, DDP forward, backward, step
    (one process: the plain loss module, as vaekit then runs without DDP too), with vaekit's Adam
    kernel (``fused``) so the ratio measures the loop, not the optimizer."""

    def __init__(self, model, data: torch.Tensor, batch_size: int, lr: float, d, device,
                 fused: bool | None = None) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP
        from torch.utils.data.distributed import DistributedSampler

        self.data, self.batch_size, self.device = data, batch_size, device
        ids = [device.index] if device.type == "cuda" else None
        self.ddp = DDP(LossModule(model), device_ids=ids) if d.active else LossModule(model)
        self.opt = torch.optim.Adam(model.parameters(), lr=lr, fused=fused)
        self.sampler = DistributedSampler(range(len(data)), num_replicas=d.world, rank=d.rank, seed=0)
        self.epochs = 0

    def epoch(self) -> None:
        self.sampler.set_epoch(self.epochs)
        self.epochs += 1
        order = torch.tensor(list(self.sampler), device=self.device)
        for idx in order.split(self.batch_size):
            loss = self.ddp(self.data[idx].float() / 255.0, None, None)["loss"]
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()


def worker(args) -> None:
    torch.set_flush_denormal(True)  # as in train_throughput.py (two optimizers share each model)
    device = resolve_device(args.device)
    d = distributed.setup(device)
    data, _ = load_images(args.data, args.images)
    data = data.to(device)
    out = {}
    for key in args.models.split(","):
        model, lr = build(MODELS[key], tuple(data.shape[1:]), device)
        cfg = TrainConfig(batch_size=args.batch_size, lr=lr, progress=False, device=str(device))
        trainer = Trainer(model, Splits(train=Dataset(x=data, max_value=255.0, name="bench")),
                          Preprocessor(max_value=255.0), cfg, device, dist=d)
        bare = BareDDP(model, trainer.train_x, args.batch_size // d.world, lr, d, device,
                       trainer.opt.defaults["fused"])
        loops = {"vaekit": trainer.run_epoch, "bare": bare.epoch}
        for fn in loops.values():
            fn()
        rates = {name: [] for name in loops}
        for r in range(args.repeats):
            for name in (list(loops) if r % 2 == 0 else list(loops)[::-1]):
                distributed.barrier(d)
                rates[name].append(timed(loops[name], len(data), device))
        out[key] = {name: statistics.median(v) for name, v in rates.items()}
    sync(device)
    if d.main:
        print("RESULT " + json.dumps({"world": d.world, "threads": torch.get_num_threads(), "models": out}), flush=True)
    distributed.teardown(d)


def launch(nproc: int, args) -> dict:
    cores = os.cpu_count() or 1
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // nproc))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           __file__, "--worker", "--models", args.models, "--images", str(args.images), "--batch-size", str(args.batch_size),
           "--repeats", str(args.repeats), "--device", args.device, "--data", args.data]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        sys.exit(f"torchrun with {nproc} processes failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[0][len("RESULT "):])


def main() -> None:
    args = parse_args()
    if args.worker:
        return worker(args)
    print(f"torch {torch.__version__}, device {args.device}, {os.cpu_count()} cores; {args.images} images/epoch, "
          f"global batch {args.batch_size}, {args.repeats} interleaved epochs per loop")
    print(f"{'model':<22}{'procs':>6}{'threads':>8}{'vaekit img/s':>14}{'bare img/s':>12}{'ratio':>8}{'speed-up':>10}")
    base = {}
    for nproc in [int(n) for n in args.nprocs.split(",")]:
        res = launch(nproc, args)
        for key, r in res["models"].items():
            base.setdefault(key, r["vaekit"])
            print(f"{MODELS[key]:<22}{nproc:>6}{res['threads']:>8}{r['vaekit']:>14.0f}{r['bare']:>12.0f}"
                  f"{r['vaekit'] / r['bare']:>8.3f}{r['vaekit'] / base[key]:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
