"""``vaekit inpaint``: hide a region of a run's images and fill it by pseudo-Gibbs iterations."""

from __future__ import annotations

import argparse

from .common import Number
from .denoise import add_scoring_args, scored_items
from .latent_args import add_data_args, add_run_args


def register(sub) -> None:
    p = sub.add_parser("inpaint", help="fill a hidden region (box, half, random pixels) by iterative "
                                       "conditional sampling; grid with the region marked")
    add_run_args(p, "inpaint.png")
    add_data_args(p, items=8)
    p.add_argument("--mask", default="box", choices=["box", "half", "random"],
                   help="the hidden region: a box at a random position, the bottom half, random pixels (default box)")
    p.add_argument("--size", type=Number(float, 0, 1, lo_open=True), metavar="F",
                   help="box side / image side, or the hidden fraction of random pixels (default 0.5)")
    p.add_argument("--steps", type=Number(int, 0, 10_000), default=20, help="encode-decode rounds T (default 20)")
    p.add_argument("--mode", default="mean", choices=["mean", "gibbs"],
                   help="mean: posterior and decoder means; gibbs: z ~ q(z|x), x ~ p(x|z) (default mean)")
    p.add_argument("--fill", default="zero", choices=["zero", "noise"], help="start of the hidden pixels (default zero)")
    add_scoring_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..figures import save
    from ..io import write_json
    from ..restoration import inpaint_examples, inpainting_figure

    out, table_path, r, ds, x, y = scored_items(args)
    result = inpaint_examples(r.model, x, y, args.mask, args.size, args.steps, args.mode, args.fill, args.seed)
    save(inpainting_figure(result, r.preprocessor, min(args.n, len(x))), out)
    write_json(table_path, {"run": str(args.run), "data": ds.name, "seed": args.seed, **result.table,
                            "psnr_per_step": result.psnr})
    t = result.table
    print(f"inpainting {t['mask']} ({t['mode']}, fill {args.fill}), {t['n']} examples")
    print(f"PSNR in the hidden region: {t['psnr_start']:.2f} dB at the start, {t['psnr_filled']:.2f} dB "
          f"after {t['steps']} steps")
    ssim = "n/a" if t["ssim"] is None else f"{t['ssim']:.4f}"
    print(f"whole images: PSNR {t['psnr']:.2f} dB, SSIM {ssim}")
    print(f"written: {out}")
    print(f"written: {table_path}")
    return 0
