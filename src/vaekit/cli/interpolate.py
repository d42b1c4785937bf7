"""``vaekit interpolate``: decoded lerp/slerp paths between two items or two image files, optional GIF."""

from __future__ import annotations

import argparse

from .common import Number
from .latent_args import add_data_args, add_label_arg, add_run_args, indices, open_run, out_path, split


def register(sub) -> None:
    p = sub.add_parser("interpolate", help="interpolate between two items or image files (lerp and slerp)")
    add_run_args(p, "interpolation.png")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="two image files (default: two dataset items)")
    add_data_args(p)
    p.add_argument("--indices", type=indices, metavar="I,J", help="the two items (default: two random ones)")
    p.add_argument("--steps", type=Number(int, 2, 1000), default=10,
                   help="points on the path, endpoints included, 2..1000 (default 10)")
    p.add_argument("--method", choices=["lerp", "slerp", "both"], default="both", help="interpolation (default both)")
    p.add_argument("--gif", metavar="FILE", help="also write an animated GIF (slerp unless --method lerp)")
    p.add_argument("--resize", action="store_true", help="resize image files to the model's size")
    add_label_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..figures import Names, interpolation_figure, interpolation_gif, save
    from ..io import write_bytes

    if len(args.images) not in (0, 2) or (args.indices is not None and len(args.indices) != 2):
        raise ConfigError("interpolate needs exactly two image files or two --indices")
    r = open_run(args, args.gif)
    x, y = _endpoints(args, r)
    methods = ["lerp", "slerp"] if args.method == "both" else [args.method]
    fig = interpolation_figure(r.model, x[0], x[1], r.preprocessor, args.steps, methods, y, Names.of(r.info, r.columns))
    print(f"written: {save(fig, out_path(args))}")
    if args.gif:
        method = "lerp" if args.method == "lerp" else "slerp"
        write_bytes(args.gif, interpolation_gif(r.model, x[0], x[1], r.preprocessor, args.steps, method, y))
        print(f"written: {args.gif}")
    return 0


def _endpoints(args, r):
    """The two inputs ``(2, *shape)`` and the label used along the path (models with classes)."""
    from ..latent import batch, choose, generates_by_class, labels_for, load_images

    if args.images:
        return load_images(r, args.images, args.resize), labels_for(r.model, 1, args.label)
    ds = split(args, r)
    x, y = batch(r, ds, choose(ds, args.indices, 2, args.seed))
    if not generates_by_class(r.model) or y is None or int(y[0]) < 0:
        return x, labels_for(r.model, 1, args.label)
    return x, y[:1] if args.label is None else labels_for(r.model, 1, args.label)
