"""``vaekit reconstruct``: chosen or random items above their reconstructions."""

from __future__ import annotations

import argparse

from .latent_args import NCOL, add_data_args, add_run_args, items, open_run, out_path, split


def register(sub) -> None:
    p = sub.add_parser("reconstruct", help="originals above their reconstructions")
    add_run_args(p, "reconstructions.png")
    add_data_args(p, items=16)
    p.add_argument("--ncol", type=NCOL, default=8, help="items per row (default 8)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..figures import Names, reconstruction_figure, save

    r = open_run(args)
    x, y = items(args, r, split(args, r))
    print(f"written: {save(reconstruction_figure(r.model, x, y, r.preprocessor, args.ncol, names=Names.of(r.info, r.columns)), out_path(args))}")
    return 0
