"""``vaekit impute RUN --data csv:FILE --out FILLED.csv``: fill the missing cells of a table."""

from __future__ import annotations

import argparse

from .common import SEED, Number, add_data_set_arg, check_outputs, data_overrides


def register(sub) -> None:
    p = sub.add_parser("impute", help="fill the missing cells of a table (a run trained with data.missing: mask)")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--data", metavar="SPEC", required=True, help="the table with missing cells, e.g. csv:FILE")
    p.add_argument("--out", metavar="FILE.csv", required=True, help="where to write the filled table")
    p.add_argument("--draws", type=Number(int, 0, 1000), default=0, metavar="M",
                   help="multiple imputation: M draws (sampling importance resampling), written one after the "
                        "other with an 'imputation' column 1..M; default 0: one conditional-mean imputation")
    p.add_argument("--k", type=Number(int, 1, 10**6), default=100, help="importance samples per row (default 100)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the draws")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights (default best)")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu or cuda")
    add_data_set_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..device import resolve_device
    from ..io import write_text
    from ..latent.tables import impute, impute_draws, read_table, table_rows
    from ..run import open_run
    from ..tabular.columns import missing_mask

    check_outputs(args.out)
    r = open_run(args.run, args.weights, resolve_device(args.device))
    src = read_table(r, args.data, data_overrides(args))
    rows, y = table_rows(src), src.train.y
    n_missing = int(sum(missing_mask(rows[name]).sum() for name in r.columns.names))
    if args.draws:
        frames = impute_draws(r, rows, args.draws, y, args.k, args.seed)
        out = pd.concat([f.assign(imputation=m + 1) for m, f in enumerate(frames)], ignore_index=True)
        out = out[["imputation", *rows.columns]]
    else:
        out = impute(r, rows, y, args.k, args.seed)
    write_text(args.out, out.to_csv(index=False))
    what = f"{args.draws} draws each" if args.draws else "conditional means / most probable categories"
    print(f"{len(rows)} rows, {n_missing} missing cells filled ({what}): {args.out}")
    return 0
