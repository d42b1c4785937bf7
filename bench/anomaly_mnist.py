"""One-class MNIST anomaly detection: train on one digit, test on all ten, every digit in turn.

For each digit d: a VAE is trained on the training images of d only (``data.classes: [d]``, dynamic
binarization), a background VAE of the same shape on the same images with 20% of the pixels replaced
by noise (``data.perturb``, Ren et al. 2019); every score is computed on the 10,000 test images (the
~1,000 images of d are normal, the other ~9,000 anomalous) and the threshold is the 0.95 quantile of
the scores of d's validation images (never trained on). Prints the per-digit AUROC of each score and,
per score, the means of AUROC, AUPRC, FPR at 95% TPR and of the test false-positive rate at the
validation threshold (target 0.05).

Default budget (under 15 minutes on a shared 2-core CPU, one torch thread): per digit, an MLP
784-400-20 VAE and its background, 20 epochs each, batch 128, Adam 1e-3; k=50 importance samples and
2 ELBO draws per score.

Usage::

    flock /tmp/vaekit-heavy.lock .venv/bin/python bench/anomaly_mnist.py [--data ../shared/data/mnist]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import vaekit
from vaekit.evaluate.anomaly import DEFAULT_SCORES, ScoreOptions, evaluate_scores, one_class_sets, score_dataset

ROOT = Path(__file__).resolve().parents[1]
SCORES = (*DEFAULT_SCORES, "llr")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"), help="MNIST IDX folder")
    p.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--background-epochs", type=int, default=20)
    p.add_argument("--perturb", type=float, default=0.2, help="background noise rate (Ren et al. 2019)")
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--latent-dim", type=int, default=20)
    p.add_argument("--k", type=int, default=50, help="importance samples for nll/complexity/llr")
    p.add_argument("--elbo-samples", type=int, default=2)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: a small MLP gains little from two, and loses a lot "
                        "when the cores are shared)")
    p.add_argument("--json", help="write all results here")
    return p.parse_args()


def config(args: argparse.Namespace, digit: int, out_dir: str, background: bool) -> dict:
    return {"out_dir": out_dir, "name": f"{'bg' if background else 'vae'}-{digit}",
            "data": {"spec": f"mnist:{args.data}", "binarize": "dynamic", "classes": [digit],
                     "perturb": args.perturb if background else 0.0},
            "model": {"latent_dim": args.latent_dim, "net": {"hidden": [args.hidden]}},
            "train": {"epochs": args.background_epochs if background else args.epochs, "batch_size": 128,
                      "lr": 1e-3, "progress": False, "device": "auto"}}


def one_digit(args: argparse.Namespace, digit: int, out_dir: str) -> dict[str, dict[str, float]]:
    """Train the digit's model and background, score the test set, return metrics per score."""
    run = vaekit.train(config(args, digit, out_dir, background=False))
    bg = vaekit.train(config(args, digit, out_dir, background=True))
    sets = one_class_sets(run.config.data, [digit])
    opts = ScoreOptions(k=args.k, elbo_samples=args.elbo_samples)
    scores = {part: score_dataset(run.model, getattr(sets, part), run.preprocessor, SCORES, opts,
                                  background=(bg.model, bg.preprocessor)) for part in ("val", "normal", "anomalous")}
    return evaluate_scores(scores["val"], scores["normal"], scores["anomalous"], quantile=0.95)


def print_tables(results: dict[int, dict[str, dict[str, float]]]) -> None:
    print("AUROC per normal digit (train on one digit, test on all ten)")
    print(f"{'normal digit':<21}" + "".join(f"{name:>11}" for name in SCORES))
    for digit, rows in results.items():
        print(f"{digit:<21}" + "".join(f"{rows[name]['auroc']:>11.3f}" for name in SCORES))
    for metric, label in (("auroc", "mean AUROC"), ("auprc", "mean AUPRC"), ("fpr95", "mean FPR at 95% TPR"),
                          ("test_fpr", "mean test FPR @ q0.95")):
        means = [np.mean([rows[name][metric] for rows in results.values()]) for name in SCORES]
        print(f"{label:<21}" + "".join(f"{m:>11.3f}" for m in means))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    digits = [int(d) for d in args.digits.split(",")]
    print(f"budget: MLP 784-{args.hidden}-{args.latent_dim}, {args.epochs} epochs (background {args.background_epochs}, "
          f"perturb {args.perturb}), batch 128, dynamic binarization, k={args.k}, {args.elbo_samples} ELBO draws",
          flush=True)
    results, start = {}, time.time()
    with tempfile.TemporaryDirectory(prefix="vaekit-anomaly-bench-") as out_dir:
        for digit in digits:
            t = time.time()
            results[digit] = one_digit(args, digit, out_dir)
            print(f"digit {digit}: {time.time() - t:.0f} s  "
                  + "  ".join(f"{name} {r['auroc']:.3f}" for name, r in results[digit].items()), flush=True)
    print(f"\ntotal {time.time() - start:.0f} s\n")
    print_tables(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
