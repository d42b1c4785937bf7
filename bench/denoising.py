"""Denoising and inpainting with small MLP VAEs: a denoising VAE (Im et al. 2017) beside the corrupted
input and beside a plain VAE, and pseudo-Gibbs inpainting (Rezende et al. 2014, App. F).

Per dataset (MNIST from ``--mnist``, and scikit-learn's 8x8 digits as a second style of data), one
plain VAE and one denoising VAE per corruption kind (``train.corrupt`` set to that kind) are trained
with the same architecture, epochs and seed. On the test split, each kind corrupts the same seeded
examples once (same draws for every model); the table gives PSNR and SSIM vs the clean images of the
corrupted input, of the plain VAE's restoration E[x | z = mu(x~)] and of the denoising VAE's, and
the plain VAE's reconstruction of the clean input as the ceiling. Inpainting: masks box:0.5, half and
random:0.5, T = 0, 1, 5, 20 mean-mode steps from a zero fill, PSNR over the hidden pixels only, for
the plain VAE and the VAE trained with occlusion boxes; grids go to ``--images``.

Usage::

    OMP_NUM_THREADS=2 nice -n 10 .venv/bin/python bench/denoising.py --json denoising.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from vaekit.data.corrupt import parse_corruption
from vaekit.evaluate.image_quality import quality
from vaekit.figures import save
from vaekit.latent import batch, choose, load_split, restore
from vaekit.restoration import denoise, denoising_figure, inpaint_examples, inpainting_figure
from vaekit.train.api import train as train_run

from common import setup_threads

KINDS = ("gaussian:0.3", "salt_pepper:0.2", "box:0.4")
MASKS = (("box", 0.5), ("half", None), ("random", 0.5))
STEPS = (0, 1, 5, 20)
#: dataset -> (data spec, training overrides): small MLP VAEs sized to the budget.
DATASETS = {
    "mnist": ("mnist:{mnist}", {"model": {"latent_dim": 16, "net": {"hidden": [256]}},
                                "train": {"epochs": 3, "batch_size": 256}}),
    "digits": ("digits", {"model": {"latent_dim": 8, "net": {"hidden": [128]}},
                          "train": {"epochs": 30, "batch_size": 64}}),
}


def train_models(name: str, spec: str, overrides: dict, out: Path, seed: int) -> dict:
    """The plain VAE and one denoising VAE per corruption kind, same settings (test metrics, no pictures)."""
    runs = {}
    for kind in (None, *KINDS):
        train = {**overrides["train"], "seed": seed, "progress": False, "corrupt": [kind] if kind else []}
        cfg = {"out_dir": str(out), "name": f"{name}-{kind or 'plain'}".replace(":", "_"),
               "data": {"spec": spec}, "model": overrides["model"], "train": train}
        t0 = time.perf_counter()
        runs[kind or "plain"] = train_run(cfg)
        print(f"  trained {name} {kind or 'plain'} in {time.perf_counter() - t0:.0f} s", flush=True)
    return runs


def denoising_rows(runs: dict, n_eval: int, seed: int) -> list[dict]:
    plain = runs["plain"]
    ds = load_split(plain)
    x, y = batch(plain, ds, choose(ds, None, min(n_eval, len(ds)), seed))
    ceiling = quality(restore(plain.model, x, y), x)
    rows = []
    for kind in KINDS:
        pipeline = [[parse_corruption(kind)]]
        base = denoise(plain.model, x, y, pipeline, seed=seed).table[0]
        dvae = denoise(runs[kind].model, x, y, pipeline, seed=seed).table[0]
        rows.append({"corruption": kind, "n": len(x), "psnr_corrupted": base["psnr_corrupted"],
                     "psnr_plain": base["psnr_restored"], "psnr_denoising": dvae["psnr_restored"],
                     "ssim_corrupted": base["ssim_corrupted"], "ssim_plain": base["ssim_restored"],
                     "ssim_denoising": dvae["ssim_restored"], "psnr_plain_clean": ceiling["psnr"],
                     "ssim_plain_clean": ceiling["ssim"]})
    return rows


def inpainting_rows(name: str, runs: dict, n_eval: int, seed: int, images: Path | None) -> list[dict]:
    rows = []
    for model_name in ("plain", "box:0.4"):
        run = runs[model_name]
        ds = load_split(run)
        x, y = batch(run, ds, choose(ds, None, min(n_eval, len(ds)), seed))
        for mask, param in MASKS:
            result = inpaint_examples(run.model, x, y, mask, param, max(STEPS), seed=seed)
            rows.append({"model": model_name, "mask": result.table["mask"], "n": len(x),
                         **{f"psnr_T{t}": result.psnr[t] for t in STEPS}})
            if images is not None and model_name == "plain":
                save(inpainting_figure(result, run.preprocessor, 10), images / f"inpaint-{name}-{mask}.png")
    return rows


def denoising_grid(name: str, runs: dict, seed: int, images: Path) -> None:
    """Clean / corrupted / restored rows, each kind restored by the VAE trained on it."""
    plain = runs["plain"]
    ds = load_split(plain)
    x, y = batch(plain, ds, choose(ds, None, 10, seed))
    parts = [denoise(runs[kind].model, x, y, [[parse_corruption(kind)]], seed=seed) for kind in KINDS]
    merged = parts[0]
    for part in parts[1:]:
        merged.names += part.names
        merged.corrupted += part.corrupted
        merged.restored += part.restored
        merged.table += part.table
    save(denoising_figure(merged, plain.preprocessor, 10), images / f"denoise-{name}.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mnist", default="/work/shared/data/mnist", help="folder of the MNIST IDX files")
    p.add_argument("--datasets", default="mnist,digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-eval", type=int, default=2000, help="test examples scored per dataset")
    p.add_argument("--images", type=Path, default=Path("docs/images"), help="folder of the grids")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    setup_threads(args.threads)
    args.images.mkdir(parents=True, exist_ok=True)
    results, t_start = {}, time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            spec, overrides = DATASETS[name]
            print(f"{name}:", flush=True)
            runs = train_models(name, spec.format(mnist=args.mnist), overrides, Path(tmp), args.seed)
            results[name] = {"denoising": denoising_rows(runs, args.n_eval, args.seed),
                             "inpainting": inpainting_rows(name, runs, args.n_eval, args.seed, args.images),
                             "settings": overrides}
            denoising_grid(name, runs, args.seed, args.images)
            print(json.dumps(results[name], indent=1), flush=True)
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    print(f"total {results['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
