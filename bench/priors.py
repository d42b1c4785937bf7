"""Learned priors and an autoregressive decoder against the N(0, I) VAE on statically binarized MNIST.

Models (one encoder for all: MLP 784-300-300-40, ReLU, Bernoulli likelihood; Tomczak & Welling 2018's
MNIST network without their gated units):

* ``vae``: the N(0, I) prior with the mirrored MLP decoder (preset vae-mlp-300-z40), the baseline;
* ``vampprior``: the same encoder and decoder, VampPrior with K = 500 pseudo-inputs (vampprior-mlp);
* ``pixelcnn_vae``: the same encoder, its decoder a PixelCNN (2 gated layers of 8 channels) conditioned
  on 2 maps decoded from z by the mirrored MLP (pixelcnn-vae-mlp).

Budget (the same for every model): the 50,000 training images of the ``amat:`` data (Larochelle &
Murray's fixed binarization), ``--epochs`` epochs of Adam (lr ``--lr``) with batch 100, linear KL
warm-up over the first ``--warmup`` epochs, the best-validation weights (10,000 validation images).
Each ``--seeds`` seed trains every model once and draws the seeded test subset the models share.

Columns: test -ELBO (all 10,000 test images); NLL by importance sampling, K = ``--k`` on
``--eval-examples`` test images (the PixelCNN decoder: K = ``--pixel-k`` on the same images, beside
the VAE at that K, since each of its samples costs a PixelCNN pass); sample quality of
``--samples`` draws x ~ p(x|z) against as many test images: the Frechet distance and k-NN precision /
recall (Kynkaanniemi et al. 2019) in the 128 hidden features of a classifier trained on the labels of
``--feature-data`` (MNIST, dynamically binarized; binarized MNIST has no labels), an MNIST "FID",
comparable only within this table; ``fd real`` is two real sets at that N (the floor). The VAE row
also samples from a post-hoc GMM (10 full-covariance components) on its training posterior means.
The paper's VampPrior figure (85.57 nats: gated MLP, 100-epoch warm-up, up to 2,000 epochs with early
stopping) is printed beside the table for scale, not as something this budget reaches.

Usage (jobs run in ``--workers`` processes of ``--threads`` torch threads each)::

    flock /tmp/vaekit-heavy.lock nice -n 10 .venv/bin/python bench/priors.py --workers 2 --threads 1
    .venv/bin/python bench/priors.py --epochs 1 --seeds 0 --k 50 --pixel-k 10 --eval-examples 20 --samples 200
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
#: name -> preset (their networks are the same MLP).
MODELS = {"vae": "vae-mlp-300-z40", "vampprior": "vampprior-mlp", "pixelcnn_vae": "pixelcnn-vae-mlp"}
PAPER_VAMPPRIOR = 85.57  # Tomczak & Welling 2018, Table 2, VampPrior, one stochastic layer, static MNIST


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--warmup", type=float, default=1.0, help="linear KL warm-up epochs (0: none)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--k", type=int, default=5000, help="importance samples per test image (vae, vampprior)")
    p.add_argument("--pixel-k", type=int, default=500, help="importance samples for the PixelCNN decoder comparison")
    p.add_argument("--eval-examples", type=int, default=500, help="test images for the NLL (seeded subset)")
    p.add_argument("--samples", type=int, default=1000, help="samples for the Frechet distance and precision/recall")
    p.add_argument("--data", default=f"amat:{SHARED / 'binarized_mnist'}")
    p.add_argument("--feature-data", default=f"mnist:{SHARED / 'mnist'}", help="labelled data of the feature classifier")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    p.add_argument("--out-dir", default=str(ROOT / "runs" / "bench-priors"))
    p.add_argument("--json", help="write all rows here (default OUT_DIR/results.json)")
    return p.parse_args(argv)


def run_config(model: str, seed: int, args: argparse.Namespace):
    from vaekit.train.config import build_run_config

    overrides = [("data.spec", args.data), ("train.epochs", args.epochs), ("train.seed", seed),
                 ("train.lr", args.lr), ("train.batch_size", 100), ("train.progress", False),
                 ("train.kl_schedule", "linear" if args.warmup else "constant"),
                 ("train.warmup_epochs", args.warmup), ("out_dir", args.out_dir), ("name", f"{model}-s{seed}")]
    return build_run_config(MODELS[model], None, overrides)


def job(spec: tuple[str, int, argparse.Namespace]) -> dict:
    """Train one model for one seed, evaluate it; returns its row."""
    import vaekit

    model, seed, args = spec
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    run = vaekit.train(run_config(model, seed, args))
    row = {"model": model, "seed": seed, "run": str(run.path), "train_seconds": time.perf_counter() - t0}
    k = args.pixel_k if model == "pixelcnn_vae" else args.k
    ev = vaekit.evaluate(run, iw_samples=k, iw_examples=args.eval_examples, seed=seed, probe=False,
                         samples=args.samples, feature_data=args.feature_data, threads=args.threads)
    row.update({key: ev[key] for key in ("nelbo", "rate", "distortion", "nll", "nll_se", "iw_samples", "sample_fd",
                                          "sample_fd_real", "sample_precision", "sample_recall", "active_units")})
    if model == "vae":  # the same subset at the PixelCNN's K, and samples from a post-hoc GMM
        at_k = vaekit.evaluate(run, iw_samples=args.pixel_k, iw_examples=args.eval_examples, seed=seed, probe=False,
                               threads=args.threads)
        gmm = vaekit.evaluate(run, iw_samples=1, iw_examples=1, seed=seed, probe=False, samples=args.samples,
                              sample_prior="gmm", feature_data=args.feature_data, threads=args.threads)
        row.update(nll_pixel_k=at_k["nll"], gmm_fd=gmm["sample_fd"], gmm_precision=gmm["sample_precision"],
                   gmm_recall=gmm["sample_recall"])
    row["seconds"] = time.perf_counter() - t0
    print(json.dumps(row), flush=True)
    return row


def prepare_classifier(args: argparse.Namespace) -> None:
    """Train the cached feature classifier once, before the workers need it (same settings as evaluate's)."""
    from vaekit.data import DataConfig, load_data
    from vaekit.evaluate.features import ClassifierConfig, feature_classifier

    splits, pre = load_data(DataConfig(spec=args.feature_data))
    torch.set_num_threads(max(args.threads * args.workers, 1))
    trained = feature_classifier(splits.train, splits.test, pre, ClassifierConfig(binarize="dynamic"), args.feature_data)
    print(f"feature classifier: {trained.path} (test accuracy {trained.info['accuracy']:.4f}, "
          f"{'cached' if trained.cached else 'trained now'})", flush=True)


def mean_sd(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def report(rows: list[dict], args: argparse.Namespace) -> str:
    """Markdown: per-model means ± sd over seeds, then paired differences against the VAE, seed by seed."""
    by = {m: [r for r in rows if r["model"] == m] for m in MODELS if any(r["model"] == m for r in rows)}
    lines = ["| model | test -ELBO | NLL, K=%d | NLL, K=%d | FD | FD real | precision | recall |" % (args.k, args.pixel_k),
             "|---|---|---|---|---|---|---|---|"]
    for m, rs in by.items():
        nll_k = mean_sd([r["nll"] for r in rs]) if m != "pixelcnn_vae" else "-"
        nll_pk = mean_sd([r["nll"] if m == "pixelcnn_vae" else r.get("nll_pixel_k") for r in rs])
        lines.append(f"| {m} | {mean_sd([r['nelbo'] for r in rs])} | {nll_k} | {nll_pk} | "
                     f"{mean_sd([r['sample_fd'] for r in rs])} | {mean_sd([r['sample_fd_real'] for r in rs])} | "
                     f"{mean_sd([r['sample_precision'] for r in rs])} | {mean_sd([r['sample_recall'] for r in rs])} |")
        if m == "vae":
            lines.append(f"| vae + post-hoc GMM | | | | {mean_sd([r['gmm_fd'] for r in rs])} | | "
                         f"{mean_sd([r['gmm_precision'] for r in rs])} | {mean_sd([r['gmm_recall'] for r in rs])} |")
    lines.append(f"| VampPrior, Tomczak & Welling 2018 (full training) | | {PAPER_VAMPPRIOR} | | | | | |")
    lines += ["", "Paired differences against the VAE (per seed):", ""]
    base = {r["seed"]: r for r in by.get("vae", [])}
    for m, rs in by.items():
        if m == "vae":
            continue
        key = "nll_pixel_k" if m == "pixelcnn_vae" else "nll"
        diffs = [r["nll"] - base[r["seed"]][key] for r in rs if r["seed"] in base]
        fds = [r["sample_fd"] - base[r["seed"]]["sample_fd"] for r in rs if r["seed"] in base]
        lines.append(f"- {m} - vae: NLL {', '.join(f'{d:+.2f}' for d in diffs)} (mean {mean_sd(diffs)}); "
                     f"FD {', '.join(f'{d:+.2f}' for d in fds)}")
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SystemExit(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    prepare_classifier(args)
    jobs = [(m, s, args) for m in sorted(models, key=lambda m: m != "pixelcnn_vae") for s in seeds]  # longest first
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        rows = pool.map(job, jobs, chunksize=1)
    out = Path(args.json) if args.json else Path(args.out_dir) / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "rows": rows, "seconds": time.perf_counter() - t0}, indent=2))
    print(report(rows, args))
    print(f"\n{len(jobs)} runs in {(time.perf_counter() - t0) / 60:.1f} min; rows in {out}")


if __name__ == "__main__":
    main()
