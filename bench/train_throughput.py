"""Training throughput: vaekit's ``Trainer`` epoch vs a bare PyTorch loop, side by side in one run.

Both loops train the *same model object* on the *same uint8 tensor* (MNIST training images from
``../shared/data/mnist``, or random uint8 images of the same shape when absent) with the same batch
size and Adam learning rate. The bare loop is what one would write by hand::

    for idx in torch.randperm(n).split(batch_size):
        loss = model.loss(data[idx].float() / 255)["loss"]
        opt.zero_grad(); loss.backward(); opt.step()

vaekit's epoch adds the KL schedule, the non-finite guard (a sum of every gradient, most of it taken
during backward while the gradients are in cache; the skip decision; skip counters), metric
accumulation and the optional DDP/compile/autocast machinery. vaekit steps with PyTorch's
fused Adam (:func:`vaekit.train.step.adam`), so the bare loop that measures the loop's cost uses the
same optimizer (``bare``); a third loop with ``torch.optim.Adam``'s default (multi-tensor) kernel
(``default``) shows what a hand-written loop usually runs. Epochs of the loops are interleaved (the
order alternates every repeat) and the medians are compared: ratio = vaekit / bare images per
second (>= 0.95 is the target: the loop costs nothing); ``paired`` = the median of the per-repeat
ratios, with a 95% bootstrap interval (2,000 resamples of the repeats); ``vs default`` = vaekit /
default.

Many short epochs rather than a few long ones: on a shared 2-core machine single epochs of one loop
spread by 6-13% around their median (the same with the process pinned to a core, and in thread CPU
time), so the ratio's precision comes from the number of repeats. Short epochs are also the
conservative choice: vaekit's per-epoch work (permutation, hook set-up, epoch sums) is spread over
fewer steps.

Denormal floats are flushed to zero for both loops (``torch.set_flush_denormal``; ``--keep-denormals``
turns it off). Two Adam instances taking turns on one model let the moments of parameters whose
gradient became zero (dead ReLU units) decay into the denormal range at different times, which makes
whichever optimizer is in that window up to 3x slower on x86 CPUs: an artifact of sharing the model,
not a cost of either loop.

Usage::

    flock /tmp/vaekit-heavy.lock .venv/bin/python bench/train_throughput.py [--compile off,on] [--images 2560] [--repeats 64] [--rounds 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import statistics
import time
from pathlib import Path

import torch

from vaekit.data import Dataset, DataConfig, Preprocessor, Splits, load_data
from vaekit.device import resolve_device
from vaekit.errors import DataError
from vaekit.models import build_model
from vaekit.train.config import TrainConfig, build_run_config
from vaekit.train.loop import Trainer
from common import setup_threads  # bench/common.py (scripts run from bench/)

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
MODELS = {"mlp": "mlp-784-400-20", "conv": "conv-32x2-z128"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="mlp,conv", help=f"comma-separated, from {', '.join(MODELS)}")
    p.add_argument("--compile", default="off,on", help="off, on or off,on")
    p.add_argument("--images", type=int, default=2560, help="training images per epoch")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=64, help="timed epochs per loop, over all rounds")
    p.add_argument("--rounds", type=int, default=8, help="fresh model and optimizers this many times")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--data", default=str(MNIST), help="MNIST IDX folder (random images when absent)")
    p.add_argument("--keep-denormals", action="store_true", help="do not flush denormal floats to zero")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    return p.parse_args()


def load_images(folder: str, n: int) -> tuple[torch.Tensor, str]:
    """``(n, 1, 28, 28)`` uint8 training images and where they came from."""
    try:
        splits, _ = load_data(DataConfig(spec=f"mnist:{folder}", val_fraction=0.0))
        return splits.train.x[:n].contiguous(), f"MNIST ({folder})"
    except DataError:
        g = torch.Generator().manual_seed(0)
        return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g), "random uint8 (MNIST absent)"


def build(preset: str, shape: tuple[int, ...], device: torch.device):
    cfg = build_run_config(preset)
    torch.manual_seed(0)
    return build_model(cfg.model, shape, None).to(device), cfg.train.lr


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BareLoop:
    """The hand-written loop: randperm, index, scale, loss, zero_grad, backward, step.

    ``fused=True`` gives it vaekit's optimizer; ``None`` is ``torch.optim.Adam``'s default kernel.
    """

    def __init__(self, model, data: torch.Tensor, batch_size: int, lr: float, compile: bool,
                 fused: bool | None = None) -> None:
        self.data, self.batch_size = data, batch_size
        self.loss = torch.compile(model.loss) if compile else model.loss
        self.opt = torch.optim.Adam(model.parameters(), lr=lr, fused=fused)

    def epoch(self) -> None:
        for idx in torch.randperm(len(self.data), device=self.data.device).split(self.batch_size):
            loss = self.loss(self.data[idx].float() / 255.0)["loss"]
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()


def vaekit_loop(model, data: torch.Tensor, batch_size: int, lr: float, compile: bool, device) -> Trainer:
    cfg = TrainConfig(batch_size=batch_size, lr=lr, compile=compile, progress=False, device=str(device))
    splits = Splits(train=Dataset(x=data, max_value=255.0, name="bench"))
    return Trainer(model, splits, Preprocessor(max_value=255.0), cfg, device)


def timed(fn, n: int, device: torch.device) -> float:
    """Images per second of one call of ``fn`` (an epoch over ``n`` images)."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return n / (time.perf_counter() - t0)


def make_loops(model_key: str, compile: bool, data: torch.Tensor, args, device) -> tuple[dict, bool]:
    """A fresh model with its vaekit Trainer and the two bare loops (epoch callables), and whether Adam is fused."""
    model, lr = build(MODELS[model_key], tuple(data.shape[1:]), device)
    trainer = vaekit_loop(model, data, args.batch_size, lr, compile, device)
    fused = trainer.opt.defaults["fused"]
    loops = {"vaekit": trainer.run_epoch,
             "bare": BareLoop(model, trainer.train_x, args.batch_size, lr, compile, fused).epoch,
             "default": BareLoop(model, trainer.train_x, args.batch_size, lr, compile).epoch}
    return loops, bool(fused)


def compare(model_key: str, compile: bool, data: torch.Tensor, args, device) -> dict:
    """Rounds of interleaved epochs; returns medians, the ratio and the paired ratio with its interval.

    Every round builds a fresh model and fresh optimizers: two identical loops on one set of
    allocations measured up to 2% apart for a whole run (presumably where their buffers land in memory),
    so the rounds spread that over the comparison. The loop that takes its first (allocating) step
    first alternates between rounds.
    """
    rates: dict[str, list[float]] = {"vaekit": [], "bare": [], "default": []}
    for rnd in range(args.rounds):
        if compile:  # each round's fresh model is a new guard: stay below Dynamo's recompile limit
            torch._dynamo.reset()
        loops, fused = make_loops(model_key, compile, data, args, device)
        names = list(loops) if rnd % 2 == 0 else list(loops)[::-1]
        for name in names:  # warm-up: allocator, optimizer state, compile
            loops[name]()
        for r in range(math.ceil(args.repeats / args.rounds)):
            for name in (names if r % 2 == 0 else names[::-1]):
                rates[name].append(timed(loops[name], len(data), device))
    med = {name: statistics.median(v) for name, v in rates.items()}
    ratios = [a / b for a, b in zip(rates["vaekit"], rates["bare"])]
    return {"model": model_key, "preset": MODELS[model_key], "compile": compile, "fused_adam": fused,
            **med, "ratio": med["vaekit"] / med["bare"], "paired_ratio": statistics.median(ratios),
            "paired_ci95": bootstrap_median_ci(ratios), "vs_default": med["vaekit"] / med["default"],
            "rates": rates}


def bootstrap_median_ci(values: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the median of ``values`` (seeded, so reruns agree)."""
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def describe(device: torch.device, source: str, args) -> str:
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return (f"torch {torch.__version__}, {device} ({where}), {torch.get_num_threads()} threads, denormals "
            f"{'kept' if args.keep_denormals else 'flushed'}; data: {source}; {args.images} images/epoch, "
            f"batch {args.batch_size}, {args.repeats} interleaved epochs per loop in {args.rounds} rounds")


def main() -> None:
    args = parse_args()
    setup_threads(args.threads)
    torch.set_flush_denormal(not args.keep_denormals)
    device = resolve_device(args.device)
    data, source = load_images(args.data, args.images)
    args.images = len(data)
    print(describe(device, source, args))
    print(f"{'model':<22}{'compile':<9}{'vaekit img/s':>14}{'bare img/s':>14}{'ratio':>8}{'paired':>8}"
          f"{'paired 95% CI':>16}{'default img/s':>15}{'vs default':>12}")
    results = []
    for compile in [c == "on" for c in args.compile.split(",")]:
        for key in args.models.split(","):
            res = compare(key, compile, data, args, device)
            results.append(res)
            print(f"{res['preset']:<22}{'on' if compile else 'off':<9}{res['vaekit']:>14.0f}{res['bare']:>14.0f}"
                  f"{res['ratio']:>8.3f}{res['paired_ratio']:>8.3f}{'%.3f-%.3f' % res['paired_ci95']:>16}"
                  f"{res['default']:>15.0f}{res['vs_default']:>12.3f}",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"setup": describe(device, source, args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
