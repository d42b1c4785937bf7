"""``vaekit arithmetic``: add an attribute vector (mean latent of label A minus label B) to inputs."""

from __future__ import annotations

import argparse

from .common import INT, Number
from .latent_args import add_data_args, add_run_args, items, open_run, out_path, split


def register(sub) -> None:
    p = sub.add_parser("arithmetic", help="inputs before/after adding mean z(label A) - mean z(label B)")
    add_run_args(p, "arithmetic.png")
    add_data_args(p, items=8)
    p.add_argument("--add", type=INT, required=True, metavar="A", help="label whose mean latent is added")
    p.add_argument("--sub", type=INT, required=True, metavar="B", help="label whose mean latent is subtracted")
    p.add_argument("--scale", type=Number(float, -1000, 1000), action="append", metavar="S",
                   help="multiple of the vector to add (repeatable; default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import DataError
    from ..figures import Names, arithmetic_figure, save
    from ..latent import attribute_vector, embed

    r = open_run(args)
    ds = split(args, r)
    if ds.y is None:
        raise DataError(f"{ds.name or 'the data'}: latent arithmetic needs labelled data")
    emb = embed(r.model, ds, r.preprocessor)
    vector = attribute_vector(emb.mu, emb.y, args.add, args.sub)
    chosen = args.indices
    if chosen is None:  # default: random items of label B, moved towards label A
        chosen = _random_of_label(ds.y, args.sub, args.n, args.seed)
    x, y = items(args, r, ds, chosen)
    names = Names.of(r.info, r.columns)
    fig = arithmetic_figure(r.model, x, y, vector, r.preprocessor, args.add, args.sub, tuple(args.scale or [1.0]),
                            chosen, names)
    print(f"attribute vector |v| = {float(vector.norm()):.3f} (from {int((emb.y == args.add).sum())} items of class "
          f"{names.label(args.add)} and {int((emb.y == args.sub).sum())} of class {names.label(args.sub)})")
    print(f"written: {save(fig, out_path(args))}")
    return 0


def _random_of_label(y, label: int, n: int, seed: int) -> list[int]:
    import torch

    pos = (y == label).nonzero()[:, 0]
    order = torch.randperm(len(pos), generator=torch.Generator().manual_seed(seed))
    return pos[order[:n]].tolist()
