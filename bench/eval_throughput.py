"""Importance-sampling throughput and peak memory of ``vaekit.evaluate.iw_log_likelihood``.

Builds a model from a preset (default: the IWAE paper's 1-layer MLP VAE, 784-200-200-50) on
MNIST-shaped binary inputs (weights at initialization: the cost does not depend on training), and
estimates log p(x) with K importance samples for a few examples under several memory budgets, plus
one unchunked call (every sample of every example at once) for comparison. Prints importance
samples per second and the peak memory above the baseline: resident set size sampled every 2 ms on
CPU, ``torch.cuda.max_memory_allocated`` on CUDA.

Usage::

    flock /tmp/vaekit-heavy.lock .venv/bin/python bench/eval_throughput.py [--k 5000] [--examples 16]
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import torch

from vaekit.config import from_dict
from vaekit.device import resolve_device
from vaekit.evaluate.likelihood import DEFAULT_BUDGET, iw_log_likelihood, per_sample_elements, plan_chunks
from vaekit.models import PRESETS, ModelConfig, build_model
from common import setup_threads  # bench/common.py (scripts run from bench/)

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="iwae-1layer")
    p.add_argument("--k", type=int, default=5000, help="importance samples per example")
    p.add_argument("--examples", type=int, default=16)
    p.add_argument("--budgets", default=f"{2 ** 18},{2 ** 20},{DEFAULT_BUDGET},{2 ** 22},{2 ** 24},{2 ** 26}",
                   help="comma-separated elements per call")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's, all physical cores)")
    p.add_argument("--device", default="auto")
    return p.parse_args()


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class PeakMemory:
    """Peak memory above the level at entry: sampled RSS on CPU, the allocator's peak on CUDA."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak, self._stop = device, 0, threading.Event()

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            self.base = rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes() - self.base)
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.base
        else:
            self._stop.set()
            self._thread.join()


def measure(model, x: torch.Tensor, k: int, budget: int, device: torch.device) -> dict:
    with PeakMemory(device) as mem:
        t0 = time.perf_counter()
        nll = -iw_log_likelihood(model, x, k=k, budget=budget).mean().item()
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rate": k * x.shape[0] / seconds, "peak_mib": mem.peak / 2 ** 20, "nll": nll}


def main() -> None:
    args = parse_args()
    setup_threads(args.threads)
    device = resolve_device(args.device)
    torch.manual_seed(0)
    cfg = from_dict(ModelConfig, PRESETS.get(args.preset)["model"], "model.")
    model = build_model(cfg, (1, 28, 28)).to(device).eval()
    x = torch.bernoulli(torch.full((args.examples, 1, 28, 28), 0.13))  # MNIST's mean intensity
    width = per_sample_elements(model, x.to(device))
    budgets = [int(b) for b in args.budgets.split(",")] + [args.examples * args.k * width]
    print(f"preset {args.preset}, K={args.k}, {args.examples} examples, device {device}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}, widest per-sample tensor {width}")
    print(f"{'budget (elements)':>20} {'calls (ex x samples)':>22} {'seconds':>8} {'samples/s':>11} "
          f"{'peak MiB':>9} {'4 B x budget MiB':>17} {'NLL':>9}")
    measure(model, x[:1], min(args.k, 100), DEFAULT_BUDGET, device)  # warm-up
    for i, budget in enumerate(budgets):
        ex, s = plan_chunks(args.examples, args.k, width, budget)
        r = measure(model, x, args.k, budget, device)
        label = "unchunked" if i == len(budgets) - 1 else f"{budget:,}"
        print(f"{label:>20} {f'{ex} x {s}':>22} {r['seconds']:8.2f} {r['rate']:11,.0f} "
              f"{r['peak_mib']:9.0f} {4 * budget / 2 ** 20:17.0f} {r['nll']:9.3f}")


if __name__ == "__main__":
    main()
