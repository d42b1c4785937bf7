"""``vaekit analogy``: each input's style decoded with every class (Kingma et al. 2014, Fig. 1b)."""

from __future__ import annotations

import argparse

from .latent_args import add_data_args, add_run_args, items, open_run, out_path, split


def register(sub) -> None:
    p = sub.add_parser("analogy", help="style fixed, class varied: inputs re-drawn as every class (cvae, m2, m1m2)")
    add_run_args(p, "analogy.png")
    add_data_args(p, items=8)
    p.add_argument("--infer", action="store_true",
                   help="encode with the class the model infers, not the data's labels (m2, m1m2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..figures import Names, analogy_figure, save
    from ..latent import choose, generates_by_class

    r = open_run(args)
    ds = split(args, r)
    if not generates_by_class(r.model):
        raise ConfigError(f"analogies need a model with classes (cvae, m2, m1m2); {args.run} holds a "
                          f"{r.model.config.name!r} model")
    if args.infer and not r.model.classifies:
        raise ConfigError(f"--infer needs a model that infers classes (m2, m1m2), not {r.model.config.name!r}")
    chosen = choose(ds, args.indices, args.n, args.seed)
    x, y = items(args, r, ds, chosen.tolist())
    fig = analogy_figure(r.model, x, None if args.infer else y, r.preprocessor, chosen.tolist(),
                         Names.of(r.info, r.columns))
    print(f"written: {save(fig, out_path(args))}")
    return 0
