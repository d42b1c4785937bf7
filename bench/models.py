"""Every registered model on MNIST under one budget: test negative ELBO, IWAE NLL, active units, speed.

Budget (the same for every model): dynamically binarized MNIST (all 60,000 training images
re-binarized at every batch; the 10,000 test images binarized once with a fixed seed), no validation
split, ``--epochs`` epochs of Adam at learning rate 1e-3 with batch size 100, the last weights
evaluated. Flat models use the IWAE paper's one-stochastic-layer MLP (784-200-200-50); the
hierarchical ones its two-stochastic-layer MLP (784-200-200-100-100-100-50; ladder inference with
the residual posterior), all with ``--activation`` (ReLU by default: with the paper's tanh the
short budgets here leave the models far from converged).
Every model trains with the same KL warm-up (``--warmup`` epochs, linear; 0 disables).

Columns: test negative ELBO (one sample, closed-form KL per layer, all 10,000 test images); NLL by
importance sampling with K = ``--k`` samples on a seeded subset of ``--eval-examples`` test images
(:func:`vaekit.evaluate.likelihood.iw_log_likelihood`, log-sum-exp in chunks); active units
(Burda et al. 2015: Var_x E_q[z_u] > 0.01; hierarchical models count every layer, top-down pass
through the posterior means); seconds per training epoch. The conditional VAE's bounds are on
log p(x | y), so its row is not comparable with the others.

Usage::

    flock /tmp/vaekit-heavy.lock .venv/bin/python bench/models.py
    .venv/bin/python bench/models.py --models vae,hierarchical --epochs 2 --eval-examples 200
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import vaekit
from vaekit.data import load_data
from vaekit.evaluate.latent_stats import active_units
from vaekit.models.hierarchical import HierarchicalVAE
from vaekit.train.config import build_run_config
from common import choose, setup_threads  # bench/common.py (scripts run from bench/)

ROOT = Path(__file__).resolve().parents[1]
#: name -> (preset, extra overrides): every registered model, paper defaults for its own knobs.
MODELS = {
    "vae": ("iwae-1layer", {}),
    "hierarchical": ("iwae-2layer", {}),
    "iwae": ("iwae-1layer-k5", {}),
    "hierarchical_iwae": ("iwae-2layer-k5", {}),
    "cvae": ("iwae-1layer", {"model.name": "cvae"}),
    "beta_vae": ("iwae-1layer", {"model.name": "beta_vae", "model.beta": 4.0}),
    "beta_tcvae": ("iwae-1layer", {"model.name": "beta_tcvae", "model.beta": 6.0}),
    "factor_vae": ("iwae-1layer", {"model.name": "factor_vae", "model.gamma": 10.0}),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)}")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--warmup", type=float, default=0.0, help="linear KL warm-up epochs, for every model")
    p.add_argument("--activation", default="relu", help="hidden activation of every model")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--k", type=int, default=500, help="importance samples per test image for the NLL")
    p.add_argument("--eval-examples", type=int, default=2000, help="test images for the NLL (seeded subset)")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"), help="MNIST IDX folder")
    p.add_argument("--out-dir", default=None, help="run directories (default: a temporary folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the rows here")
    return p.parse_args()


def config(name: str, args: argparse.Namespace, out_dir: str):
    preset, extra = MODELS[name]
    overrides = [("data.spec", f"mnist:{args.data}"), ("data.binarize", "dynamic"), ("data.val_fraction", 0.0),
                 ("train.epochs", args.epochs), ("train.batch_size", 100), ("train.lr", 1e-3),
                 ("train.seed", args.seed), ("train.progress", False), ("out_dir", out_dir), ("name", name),
                 ("model.net.activation", args.activation),
                 *extra.items()]
    if args.warmup > 0:
        overrides += [("train.kl_schedule", "linear"), ("train.warmup_epochs", args.warmup)]
    return build_run_config(preset, None, overrides)


@torch.inference_mode()
def layer_active_units(run) -> list[int]:
    """Active units per stochastic layer (bottom first) on the test split."""
    splits, pre = load_data(run.config.data)
    model, ds = run.model.eval(), splits.test
    means = []
    for idx in torch.arange(len(ds)).split(1000):
        x, y = pre(ds.x[idx]), (ds.y[idx] if model.conditional else None)
        means.append(model.posterior_means(x) if isinstance(model, HierarchicalVAE) else [model.encode(x, y).mean])
    return [active_units(torch.cat(layer))["active_units"] for layer in zip(*means)]


def run_one(name: str, args: argparse.Namespace, out_dir: str) -> dict:
    t0 = time.perf_counter()
    run = vaekit.train(config(name, args, out_dir))
    train_s = time.perf_counter() - t0
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    result = vaekit.evaluate(run.path, split="test", iw_samples=args.k, iw_examples=args.eval_examples,
                             weights="last", seed=args.seed, probe=False, device="cpu")
    out = {"model": name, "epochs": args.epochs, "nelbo": result["nelbo"], "nll": result["nll"],
           "nll_se": result["nll_se"], "iw_subset_nelbo": result["iw_subset_nelbo"],
           "active_units": layer_active_units(vaekit.open_run(run.path, "last")),
           "sec_per_epoch": sum(r["seconds"] for r in rows) / len(rows), "train_seconds": train_s,
           "eval_seconds": result["seconds"], "run": str(run.path)}
    print(f"{name}: -ELBO {out['nelbo']:.2f}  NLL {out['nll']:.2f} ± {out['nll_se']:.2f}  "
          f"AU {out['active_units']}  {out['sec_per_epoch']:.1f} s/epoch", flush=True)
    return out


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    print(f"\nMNIST, dynamically binarized, {args.epochs} epochs, batch 100, Adam 1e-3, {args.activation}, warm-up {args.warmup} "
          f"epochs, {torch.get_num_threads()} threads; NLL: K={args.k} on {args.eval_examples} test images")
    print("| model | test -ELBO | IWAE NLL ± s.e. | -ELBO on NLL subset | active units | s/epoch |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        au = "+".join(str(a) for a in r["active_units"])
        au = f"{sum(r['active_units'])} ({au})" if len(r["active_units"]) > 1 else au
        print(f"| {r['model']} | {r['nelbo']:.2f} | {r['nll']:.2f} ± {r['nll_se']:.2f} | "
              f"{r['iw_subset_nelbo']:.2f} | {au} | {r['sec_per_epoch']:.1f} |")


def main() -> None:
    args = parse_args()
    setup_threads(args.threads)
    names = choose(args.models, MODELS)
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="vaekit-bench-models-")
    rows = [run_one(name, args, out_dir) for name in names]
    print_table(rows, args)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
