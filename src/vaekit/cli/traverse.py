"""``vaekit traverse``: latent traversals ordered by KL, or the 2-D manifold grid for 2-D latents."""

from __future__ import annotations

import argparse

from ..device import device_of
from .common import INT, Number
from .latent_args import add_data_args, add_label_arg, add_run_args, items, open_run, out_path, split


def register(sub) -> None:
    p = sub.add_parser("traverse", help="sweep each latent dimension (ordered by KL); manifold grid for 2-D latents")
    add_run_args(p, "traversal.png")
    add_data_args(p)
    p.add_argument("--index", type=INT, metavar="I", help="centre on the posterior mean of item I (default z = 0)")
    p.add_argument("--span", type=Number(float, 0, 100, lo_open=True), default=3.0,
                   help="sweep each dimension over [-span, span] (default 3)")
    p.add_argument("--steps", type=Number(int, 1, 1000), default=9, help="values per dimension (default 9)")
    p.add_argument("--all-dims", action="store_true", help="also show inactive dimensions (KL <= 0.01 nats)")
    p.add_argument("--max-dims", type=Number(int, 1, 10_000), metavar="N",
                   help="show at most N dimensions (highest KL first)")
    p.add_argument("--kl-examples", type=Number(int, 1, 2**31), default=1000, metavar="N",
                   help="examples to measure each dimension's KL on (default 1000)")
    p.add_argument("--kind", choices=["auto", "dims", "manifold"], default="auto",
                   help="dims: per-dimension sweeps; manifold: 2-D grid; auto: manifold for 2-D latents")
    p.add_argument("--grid", type=Number(int, 1, 100), default=15, help="manifold grid size, 1..100 (default 15)")
    add_label_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..figures import Names, eval_batch, manifold_figure, save, traversal_figure

    r = open_run(args)
    if args.kind == "manifold" or (args.kind == "auto" and r.model.latent_dim == 2):
        fig = manifold_figure(r.model, r.preprocessor, args.grid, args.label, Names.of(r.info, r.columns))
    else:
        ds = split(args, r)
        x, y = eval_batch(ds, r.preprocessor, device_of(r.model), args.kl_examples)
        centre = None if args.index is None else items(args, r, ds, [args.index])  # ((1, *shape), (1,) | None)
        centre = None if centre is None else (centre[0][0], centre[1])
        fig = traversal_figure(r.model, x, y, r.preprocessor, centre, args.span, args.steps, args.all_dims,
                               args.max_dims, args.label, f"item {args.index} of {ds.name or 'the data'}",
                               Names.of(r.info, r.columns))
    print(f"written: {save(fig, out_path(args))}")
    return 0

