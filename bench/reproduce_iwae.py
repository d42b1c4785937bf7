"""Reproduce the IWAE paper's MNIST log-likelihoods (Burda et al. 2015, Sec. 5 and Table 1).

Protocol: dynamically binarized MNIST (60,000 training images re-binarized at every batch, the
10,000 test images binarized once with a fixed seed), no validation split; Adam (beta1 0.9, beta2
0.999, epsilon 1e-4), batch size 20, and the paper's schedule of 3^i epochs at learning rate
1e-3 * 10^(-i/7) for i = 0..7 (3,280 epochs). ``--budget E`` keeps the eight learning-rate stages in
E epochs in all (one epoch per stage when E = 8; stages shared out by 3^i beyond; fewer, evenly
spaced stages when E < 8). The final weights are evaluated with ``vaekit.evaluate``: test negative
ELBO and the importance-sampled NLL with K = 5000 (``--eval-examples N``: a seeded random subset of
N test images, stated in the output).

Models (presets): ``vae1`` VAE with 1 stochastic layer (784-200-200-50, tanh; paper 86.76 nats),
``iwae2`` IWAE k = 50 with 2 stochastic layers (z1 = 100, z2 = 50, here with ladder inference;
paper 82.90), and ``iwae1`` / ``vae2`` for the other corners of the paper's table.

Usage::

    flock /tmp/vaekit-heavy.lock .venv/bin/python bench/reproduce_iwae.py --budget 8 --eval-examples 1000
    .venv/bin/python bench/reproduce_iwae.py --models vae1,iwae2     # the paper's 3,280 epochs
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

import vaekit
from vaekit.data import load_data
from vaekit.device import resolve_device
from vaekit.io import write_json
from vaekit.models import build_model
from vaekit.pipeline import finish
from vaekit.run import new_run_dir, resolve_likelihood, save_weights, write_run_files
from vaekit.train.api import run_info, seed_everything
from vaekit.train.config import build_run_config
from vaekit.train.loop import Trainer
from common import choose, setup_threads  # bench/common.py (scripts run from bench/)

ROOT = Path(__file__).resolve().parents[1]
STAGES = 8
ADAM = {"betas": (0.9, 0.999), "eps": 1e-4}
#: pythae's reproduction closest to these rows (clementchadebec/benchmark_VAE,
#: examples/scripts/reproducibility/README.md): IWAE n_samples=50, 1 stochastic layer, statically
#: binarized MNIST, 3,280 epochs, NLL with 5000 importance samples.
PYTHAE = {"iwae1": 86.82}


@dataclass
class Spec:
    preset: str
    label: str
    paper: float | None = None
    overrides: dict = field(default_factory=dict)


MODELS = {
    "vae1": Spec("iwae-1layer", "VAE, 1 stochastic layer, k=1", 86.76),
    "iwae2": Spec("iwae-2layer-k5", "IWAE, 2 stochastic layers, k=50", 82.90, {"model.k": 50}),
    "iwae1": Spec("iwae-1layer-k5", "IWAE, 1 stochastic layer, k=50", None, {"model.k": 50}),
    "vae2": Spec("iwae-2layer", "VAE, 2 stochastic layers, k=1"),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="vae1,iwae2", help=f"comma-separated, from {', '.join(MODELS)}")
    p.add_argument("--budget", type=int, metavar="EPOCHS", help="total epochs (default: the paper's 3,280)")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"), help="MNIST IDX folder")
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--k", type=int, default=5000, help="importance samples of the evaluation")
    p.add_argument("--eval-examples", type=int, help="evaluate the NLL on this many test images (default all)")
    p.add_argument("--out-dir", default=str(ROOT / "runs" / "iwae-repro"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, help="torch threads (default: all physical cores)")
    p.add_argument("--json", help="write the results here too")
    return p.parse_args()


def paper_schedule() -> list[tuple[int, float]]:
    """(epochs, learning rate) per stage: 3^i epochs at 1e-3 * 10^(-i/7), i = 0..7."""
    return [(3 ** i, 1e-3 * 10 ** (-i / 7)) for i in range(STAGES)]


def budget_schedule(total: int) -> list[tuple[int, float]]:
    """The paper's stages in ``total`` epochs: each stage at least one epoch, the rest shared out
    in proportion to 3^i (largest remainder); fewer than 8 epochs keep evenly spaced stages."""
    lrs = [lr for _, lr in paper_schedule()]
    if total < STAGES:
        picks = [round(j * (STAGES - 1) / max(total - 1, 1)) for j in range(total)]
        return [(1, lrs[i]) for i in picks]
    weights = [3 ** i for i in range(STAGES)]
    shares = [(total - STAGES) * w / sum(weights) for w in weights]
    epochs = [1 + int(s) for s in shares]
    by_remainder = sorted(range(STAGES), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for i in by_remainder[:total - sum(epochs)]:
        epochs[i] += 1
    return list(zip(epochs, lrs))


def make_config(key: str, schedule: list[tuple[int, float]], args: argparse.Namespace):
    overrides = [("data.spec", f"mnist:{args.data}"), ("data.binarize", "dynamic"), ("data.val_fraction", 0.0),
                 ("train.batch_size", args.batch_size), ("train.epochs", sum(e for e, _ in schedule)),
                 ("train.lr", schedule[0][1]), ("train.seed", args.seed), ("train.progress", False),
                 ("train.device", args.device), ("out_dir", args.out_dir), ("name", key),
                 *MODELS[key].overrides.items()]
    return build_run_config(MODELS[key].preset, None, overrides)


def train(key: str, schedule: list[tuple[int, float]], args: argparse.Namespace) -> Path:
    """Train with the staged learning rate and the paper's Adam settings; returns the run directory."""
    cfg = make_config(key, schedule, args)
    seed_everything(cfg.train.seed)
    splits, pre = load_data(cfg.data)
    device = resolve_device(cfg.train.device)
    cfg = resolve_likelihood(cfg, splits, pre)
    model = build_model(cfg.model, splits.train.sample_shape, splits.train.n_classes)
    trainer = Trainer(model, splits, pre, cfg.train, device)
    for group in trainer.opt.param_groups:
        group.update(ADAM)
    path = new_run_dir(cfg)
    info = run_info(cfg, splits, cfg.data.binarize)
    write_run_files(path, cfg, info, pre)
    lrs = [lr for epochs, lr in schedule for _ in range(epochs)]  # learning rate of each epoch

    def on_epoch_end(t: Trainer, row: dict) -> None:
        row["lr"] = lrs[t.state.epoch - 1]
        t.stepper.set_lr(lrs[min(t.state.epoch, len(lrs) - 1)])
        print(f"  {key} epoch {row['epoch']}/{len(lrs)}  lr {row['lr']:.2e}  train loss "
              f"{row['train_loss']:.2f}  ({row['seconds']:.0f} s)", flush=True)
        with open(path / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")

    trainer.on_epoch_end.append(on_epoch_end)
    history = trainer.fit()
    save_weights(model, path, "last")
    finish(path, info, splits, history, device)
    return path


def run_one(key: str, args: argparse.Namespace) -> dict:
    schedule = budget_schedule(args.budget) if args.budget else paper_schedule()
    print(f"{key}: {MODELS[key].label}; stages (epochs, lr): "
          + ", ".join(f"({e}, {lr:.2e})" for e, lr in schedule), flush=True)
    t0 = time.perf_counter()
    path = train(key, schedule, args)
    train_s = time.perf_counter() - t0
    result = vaekit.evaluate(path, split="test", iw_samples=args.k, iw_examples=args.eval_examples,
                             weights="last", seed=args.seed, probe_max_fit=10000, device=args.device)
    print(f"  {key}: NLL {result['nll']:.2f} ± {result['nll_se']:.2f} (K={args.k}, {result['iw_examples']} test "
          f"images, {result['iw_seconds']:.0f} s), negative ELBO {result['nelbo']:.2f}", flush=True)
    return {"model": key, "label": MODELS[key].label, "run": str(path), "epochs": sum(e for e, _ in schedule),
            "schedule": schedule, "train_seconds": train_s, "paper": MODELS[key].paper,
            "pythae": PYTHAE.get(key), "evaluation": result}


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    print(f"\nDynamically binarized MNIST, batch {args.batch_size}, {torch.get_num_threads()} threads, "
          f"device {resolve_device(args.device)}")
    print(f"| model | epochs | train min | test -ELBO | NLL (K={args.k}) ± s.e. | test images | eval min | "
          f"paper | pythae |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        e = r["evaluation"]
        ref = "—" if r["paper"] is None else f"{r['paper']:.2f}"
        pyt = "—" if r["pythae"] is None else f"{r['pythae']:.2f} (static bin.)"
        print(f"| {r['label']} | {r['epochs']} | {r['train_seconds'] / 60:.1f} | {e['nelbo']:.2f} | "
              f"{e['nll']:.2f} ± {e['nll_se']:.2f} | {e['iw_examples']} | {e['iw_seconds'] / 60:.1f} | {ref} | {pyt} |")


def main() -> None:
    args = parse_args()
    setup_threads(args.threads)
    keys = choose(args.models, MODELS)
    rows = [run_one(key, args) for key in keys]
    print_table(rows, args)
    if args.json:
        write_json(args.json, {"args": vars(args), "results": rows})


if __name__ == "__main__":
    main()
