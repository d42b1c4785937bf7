"""``vaekit project``: a 2-D PCA / t-SNE / UMAP scatter of posterior means, coloured by label."""

from __future__ import annotations

import argparse

from .common import Number
from .latent_args import add_data_args, add_run_args, open_run, out_path, split


def register(sub) -> None:
    p = sub.add_parser("project", help="scatter of the latent space: PCA (default), t-SNE, or UMAP if installed")
    add_run_args(p, "projection.png")
    add_data_args(p)
    p.add_argument("--method", choices=["pca", "tsne", "umap"], default="pca", help="projection (default pca)")
    p.add_argument("--max-points", type=Number(int, 1, 10**6), default=5000, metavar="N",
                   help="project a seeded random subset of at most N examples (default 5000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..figures import Names, projection_figure, save
    from ..latent import choose, embed, project

    r = open_run(args)
    ds = split(args, r)
    index = choose(ds, n=min(args.max_points, len(ds)), seed=args.seed).sort().values
    emb = embed(r.model, ds, r.preprocessor, index=index)
    fig = projection_figure(project(emb.mu, args.method, args.seed), emb.y, names=Names.of(r.info, r.columns))
    print(f"written: {save(fig, out_path(args))}")
    return 0
