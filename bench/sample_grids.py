"""Sample grids of five generative models side by side on binarized MNIST (docs/images/prior-samples.png).

Panels, 64 samples each, decoder means E[x | z] of z drawn from:

1. ``vae``: the N(0, I) prior of the VAE (a bench/priors.py run);
2. ``vampprior``: the VampPrior of the same network (a bench/priors.py run);
3. ``post-hoc GMM``: a 10-component Gaussian mixture fitted to the VAE's training posterior means
   (Ghosh et al. 2020; ``vaekit sample RUN --prior gmm``), the same VAE as panel 1;
4. ``vq_vae``: the PixelCNN prior over the VQ-VAE's 4 x 4 code map (preset vq-vae-mlp, trained here
   for ``--vq-epochs`` epochs unless ``--vq-run`` names a run);
5. ``pixelcnn_vae``: the PixelCNN decoder (a bench/priors.py run): the conditional means along one
   ancestral draw, so its panel is as sharp as a draw.

Usage (after bench/priors.py, whose seed-0 runs it reads)::

    nice -n 10 .venv/bin/python bench/sample_grids.py --runs runs/bench-priors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default=str(ROOT / "runs" / "bench-priors"), help="bench/priors.py output folder")
    p.add_argument("--seed", type=int, default=0, help="which bench seed's runs, and the sampling seed")
    p.add_argument("--vq-run", help="a trained VQ-VAE run (default: train one with preset vq-vae-mlp)")
    p.add_argument("--vq-epochs", type=int, default=5)
    p.add_argument("--data", default=f"amat:{SHARED / 'binarized_mnist'}")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "docs" / "images" / "prior-samples.png"))
    return p.parse_args(argv)


def vq_run(args: argparse.Namespace) -> Path:
    import vaekit
    from vaekit.train.config import build_run_config

    if args.vq_run:
        return Path(args.vq_run)
    cfg = build_run_config("vq-vae-mlp", None, [("data.spec", args.data), ("train.epochs", args.vq_epochs),
                                                ("train.seed", args.seed), ("train.progress", False),
                                                ("out_dir", args.runs), ("name", f"vq_vae-s{args.seed}")])
    return vaekit.train(cfg).path


def panels(args: argparse.Namespace) -> list[tuple[str, torch.Tensor]]:
    """(title, 64 samples ``(64, 1, 28, 28)``) per panel."""
    from vaekit import open_run
    from vaekit.posthoc import aggregate_prior

    runs = Path(args.runs)
    vae, vamp = open_run(runs / f"vae-s{args.seed}"), open_run(runs / f"vampprior-s{args.seed}")
    pixel, vq = open_run(runs / f"pixelcnn_vae-s{args.seed}"), open_run(vq_run(args))
    gmm = aggregate_prior(vae, seed=args.seed)
    out = []
    for title, model, prior in (("VAE, N(0, I) prior", vae.model, None),
                                ("VampPrior (500 pseudo-inputs)", vamp.model, None),
                                ("VAE, post-hoc GMM (10 comp.)", vae.model, gmm.distribution),
                                ("VQ-VAE + PixelCNN prior", vq.model, None),
                                ("PixelCNN decoder", pixel.model, None)):
        torch.manual_seed(args.seed)
        out.append((title, model.sample(64, mean=True, prior=prior).clamp(0, 1)))
    return out


def save(panels_: list[tuple[str, torch.Tensor]], path: Path) -> Path:
    from vaekit.viz import image_grid, new_figure, save_figure

    plt = new_figure()
    fig, axes = plt.subplots(1, len(panels_), figsize=(3.2 * len(panels_), 3.6))
    for ax, (title, x) in zip(axes, panels_):
        ax.imshow(image_grid(x, nrow=8), cmap="gray")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle("64 samples each on binarized MNIST (decoder means), seed-0 runs of bench/priors.py", fontsize=11)
    return save_figure(fig, path)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"written: {save(panels(args), Path(args.out))}")


if __name__ == "__main__":
    main()
