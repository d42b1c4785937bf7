"""``vaekit embed``: posterior means, log-variances and labels of a split to .npz and .csv."""

from __future__ import annotations

import argparse

from .common import BATCH
from .latent_args import add_data_args, add_run_args, open_run, out_path, split


def register(sub) -> None:
    p = sub.add_parser("embed", help="write posterior means/log-variances and labels to .npz and .csv")
    add_run_args(p, "embedding.npz")
    add_data_args(p)
    p.add_argument("--batch-size", type=BATCH, default=1000, help="examples per encoder batch (default 1000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..latent import embed, save_embedding

    r = open_run(args, out_path(args).with_suffix(".csv"))
    ds = split(args, r)
    emb = embed(r.model, ds, r.preprocessor, args.batch_size)
    npz, table = save_embedding(emb, out_path(args))
    labelled = "yes" if emb.y is not None else "no"
    print(f"{len(emb.mu)} examples, {emb.mu.shape[1]} latent dimensions, labels: {labelled}")
    print(f"written: {npz}\nwritten: {table}")
    return 0
