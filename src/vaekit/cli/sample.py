"""``vaekit sample``: a grid of prior samples (temperature, decoder means or draws, class labels), from
the model's prior or a post-hoc density of its aggregate posterior (``--prior gmm``).

Like ``model.sample`` in Python, it shows decoder means E[x|z] by default (``--draws`` for x ~ p(x|z));
a conditional model without ``--label`` gets one labelled row per class."""

from __future__ import annotations

import argparse

import torch

from .common import Number
from .latent_args import ITEMS, NCOL, add_label_arg, add_run_args, open_run, out_path


def register(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from the prior as an image grid")
    add_run_args(p, "samples.png")
    p.add_argument("--n", type=ITEMS, default=64, help="number of samples (default 64)")
    p.add_argument("--temperature", type=Number(float, 0, 100), default=1.0,
                   help="scale of the prior draw (z ~ N(0, T^2 I) for the N(0, I) prior), 0..100 (default 1)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--mean", dest="mean", action="store_true", default=True,
                      help="show decoder means E[x|z] (the default, as model.sample)")
    what.add_argument("--draws", dest="mean", action="store_false", help="show random draws x ~ p(x|z)")
    p.add_argument("--ncol", type=NCOL, default=8, help="samples per row (default 8)")
    p.add_argument("--prior", choices=["model", "gmm"], default="model",
                   help="model: the model's own prior; gmm: a Gaussian mixture fitted to the training posterior "
                        "means (Ghosh et al. 2020), fitted once and cached in RUN/priors/")
    p.add_argument("--components", type=Number(int, 1, 1000), default=10,
                   help="mixture components of --prior gmm (default 10)")
    add_label_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..figures import Names, samples_figure, save
    from ..posthoc import aggregate_prior

    r = open_run(args)
    prior, name = None, None
    if args.prior == "gmm":
        fitted = aggregate_prior(r, args.components, seed=args.seed)
        print(f"{'fitted' if fitted.fitted else 'cached'}: {fitted.path}")
        prior, name = fitted.distribution, fitted.name
        torch.manual_seed(args.seed)  # the draws do not depend on whether the fit was cached
    fig = samples_figure(r.model, r.preprocessor, args.n, args.label, args.temperature, args.mean, args.ncol,
                         Names.of(r.info, r.columns), prior=prior, prior_name=name)
    print(f"written: {save(fig, out_path(args))}")
    return 0
