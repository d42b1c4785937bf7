"""``vaekit anomaly``: score examples, evaluate detection honestly, train on the normal classes.

- ``vaekit anomaly score RUN --data SPEC --score nll[,kl] [--columns] [--out FILE.csv]``
- ``vaekit anomaly eval RUN --anomalous SPEC [--normal SPEC]`` or ``--data SPEC --normal-classes 0[,1]``
- ``vaekit anomaly fit --data SPEC --normal-classes 0 [train options] [--perturb RATE]``
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from . import Parser
from .common import BATCH, INT, SEED, Number, add_config_args, add_data_set_arg, check_outputs, data_overrides
from .report import rewrite_report

SCORE_HELP = "nelbo, nll, recon, recon_nll, kl, complexity (images), llr (needs --background)"


def register(sub) -> None:
    p = sub.add_parser("anomaly", help="anomaly detection: score examples, evaluate, train on normal classes")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    actions.required = True
    _register_score(actions)
    _register_eval(actions)
    _register_fit(actions)


def _class_list(text: str) -> list[int]:
    try:
        classes = [INT(c) for c in text.split(",") if c.strip()]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected class numbers like 0 or 0,1, got {text[:80]!r}") from None
    if not classes:
        raise argparse.ArgumentTypeError("name at least one class")
    if min(classes) < 0:
        raise argparse.ArgumentTypeError(f"classes are labels 0..K-1 (-1 marks an unlabelled example), "
                                         f"got {text[:80]!r}")
    return classes


def _quantile(text: str) -> float:
    try:
        q = float(text)
    except ValueError:
        q = math.nan
    if not 0.0 < q <= 1.0:
        raise argparse.ArgumentTypeError(f"quantile must lie in (0, 1], got {text!r}")
    return q


def _name_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _add_scoring_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run directory of the trained model")
    p.add_argument("--background", metavar="RUN", help="background run for the likelihood-ratio score (llr)")
    p.add_argument("--weights", choices=["best", "last"], default="best")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu or cuda")
    p.add_argument("--k", type=Number(int, 1, 10**6), default=100,
                   help="importance samples for nll/complexity/llr (default 100)")
    p.add_argument("--elbo-samples", type=Number(int, 1, 10**4), default=8,
                   help="posterior draws averaged in nelbo/kl (default 8)")
    p.add_argument("--batch-size", type=BATCH, default=500)
    p.add_argument("--seed", type=SEED, default=0, help="seed of the posterior draws")
    add_data_set_arg(p)


def _register_score(actions) -> None:
    p = actions.add_parser("score", help="one anomaly score per example, as CSV (index, label, scores)")
    _add_scoring_args(p)
    p.add_argument("--data", metavar="SPEC", help="examples to score (default: the run's data); "
                   "its test split when it has one, else all of it")
    p.add_argument("--score", type=_name_list, metavar="S[,S]",
                   help=f"{SCORE_HELP}; default nll, for tables the tabular recipe's score (recon_nll)")
    p.add_argument("--columns", action="store_true",
                   help="tables: add each column's contribution -log p(x_c | z = mu(x)) (which columns made a row "
                        "anomalous), one CSV column 'column:NAME' each")
    p.add_argument("--out", metavar="FILE.csv", help="write the CSV here (default: standard output)")
    p.set_defaults(func=run_score)


def _register_eval(actions) -> None:
    p = actions.add_parser("eval", help="AUROC, AUPRC, FPR at 95%% TPR and a validation threshold per score")
    _add_scoring_args(p)
    p.add_argument("--anomalous", metavar="SPEC", help="anomalous test examples")
    p.add_argument("--normal", metavar="SPEC",
                   help="normal test examples for --anomalous (default: the run's own test split)")
    p.add_argument("--data", metavar="SPEC", help="labelled data for the one-class protocol (default: the run's)")
    p.add_argument("--normal-classes", type=_class_list, metavar="C[,C]",
                   help="normal classes of --data (default: the run's data.classes)")
    p.add_argument("--scores", type=_name_list, metavar="S[,S]",
                   help=f"{SCORE_HELP}; default: every score that fits the data (no complexity for vectors and tables)")
    p.add_argument("--quantile", type=_quantile, default=0.95,
                   help="threshold = this quantile of normal validation scores (default 0.95: 5%% FPR)")
    p.add_argument("--hist", metavar="FILE.png", help="histogram path (default RUN/anomaly_hist.png)")
    p.add_argument("--json", metavar="FILE",
                   help="results as JSON (default RUN/anomaly.json, after which the run's report is rewritten)")
    p.set_defaults(func=run_eval)


def _register_fit(actions) -> None:
    p = actions.add_parser("fit", help="train only on the normal classes (vaekit train with data.classes)")
    add_config_args(p)
    p.add_argument("--normal-classes", type=_class_list, required=True, metavar="C[,C]")
    p.add_argument("--perturb", type=Number(float, 0, 1), metavar="RATE",
                   help="train a likelihood-ratio background: replace this fraction of inputs by noise")
    p.set_defaults(func=run_fit)


def _open(args: argparse.Namespace):
    """The run, the background run (or None) and the score options."""
    from ..device import resolve_device
    from ..evaluate.anomaly import ScoreOptions
    from ..run import open_run

    device = resolve_device(args.device)
    run = open_run(args.run, args.weights, device)
    bg = open_run(args.background, args.weights, device) if args.background else None
    opts = ScoreOptions(k=args.k, elbo_samples=args.elbo_samples, batch_size=args.batch_size, seed=args.seed)
    return run, bg, opts


def _scorer(run, bg, *datasets):
    """Check that every dataset fits both models; return the ``score_dataset`` background argument."""
    from ..run import check_compatible

    for ds in datasets:
        for r in (run, bg) if bg else (run,):
            check_compatible(r, ds)
    return (bg.model, bg.preprocessor) if bg else None


def run_score(args: argparse.Namespace) -> int:
    from ..evaluate.anomaly import TABLE_SCORE, column_contributions, evaluation_data, score_dataset, scores_csv
    from ..io import write_text

    check_outputs(args.out)
    run, bg, opts = _open(args)
    ds = evaluation_data(run.config.data, args.data, run.columns, data_overrides(args))
    background = _scorer(run, bg, ds)
    names = args.score or [TABLE_SCORE if run.columns is not None else "nll"]
    scores = score_dataset(run.model, ds, run.preprocessor, names, opts, background)
    if args.columns:
        if run.columns is None:
            from ..errors import ConfigError
            raise ConfigError("--columns needs a run trained on a table")
        contrib = column_contributions(run.model, ds, run.preprocessor, args.batch_size)
        scores.update({f"column:{name}": contrib[:, j] for j, name in enumerate(run.columns.names)})
    text = scores_csv(scores, ds.y)
    if args.out:
        write_text(args.out, text)
        print(f"wrote {len(ds)} rows ({', '.join(scores)}) to {args.out}")
    else:
        print(text, end="")
    return 0


def _detection_sets(args: argparse.Namespace, run):
    """The evaluation sets and a one-line description of the protocol."""
    from ..errors import ConfigError
    from ..evaluate.anomaly import one_class_sets, two_source_sets

    cfg, columns, overrides = run.config.data, run.columns, data_overrides(args)
    if args.normal or args.anomalous:
        if args.data or args.normal_classes:
            raise ConfigError("--normal/--anomalous and --data/--normal-classes are two protocols: give one")
        if not args.anomalous:
            raise ConfigError("--normal needs --anomalous (the anomalous test examples)")
        normal = args.normal or f"{cfg.spec} (test split)"
        return (two_source_sets(cfg, args.anomalous, args.normal, columns, overrides),
                f"normal {normal} vs anomalous {args.anomalous}")
    classes = args.normal_classes or cfg.classes
    if classes is None:
        raise ConfigError("give --normal-classes (the run was trained on all classes) or --normal/--anomalous")
    spec = args.data or cfg.spec
    return (one_class_sets(cfg, classes, spec, columns, overrides),
            f"one-class protocol on {spec}, normal classes {classes}")


def run_eval(args: argparse.Namespace) -> int:
    from ..evaluate.anomaly import default_scores, evaluate_scores, histogram_figure, score_dataset
    from ..io import write_json
    from ..viz import save_figure

    check_outputs(Path(args.hist) if args.hist else Path(args.run) / "anomaly_hist.png", args.json)
    run, bg, opts = _open(args)
    sets, protocol = _detection_sets(args, run)
    background = _scorer(run, bg, sets.val, sets.normal, sets.anomalous)
    names = args.scores or [*default_scores(sets.normal), *(["llr"] if background else [])]
    scores = {part: score_dataset(run.model, getattr(sets, part), run.preprocessor, names, opts, background)
              for part in ("val", "normal", "anomalous")}
    results = evaluate_scores(scores["val"], scores["normal"], scores["anomalous"], args.quantile)
    hist = Path(args.hist) if args.hist else run.path / "anomaly_hist.png"
    save_figure(histogram_figure(scores["normal"], scores["anomalous"],
                                 {name: row["threshold"] for name, row in results.items()},
                                 {name: row["auroc"] for name, row in results.items()}), hist)
    print(f"{protocol}: {len(sets.val)} validation, {len(sets.normal)} normal and "
          f"{len(sets.anomalous)} anomalous test examples")
    print(f"threshold: the {args.quantile:g} quantile of normal validation scores "
          f"(target false-positive rate {1 - args.quantile:.3g}); anomalous if score > threshold")
    if len(sets.val) * (1 - args.quantile) < 1:
        print(f"note: {len(sets.val)} validation examples are too few for this quantile; "
              "the threshold is their largest score")
    print(f"{'score':<11} {'AUROC':>6} {'AUPRC':>6} {'FPR95':>6} {'threshold':>11} {'val FPR':>8} "
          f"{'test FPR':>8} {'test TPR':>8}")
    for name, r in results.items():
        print(f"{name:<11} {r['auroc']:6.3f} {r['auprc']:6.3f} {r['fpr95']:6.3f} {r['threshold']:11.4g} "
              f"{r['val_fpr']:8.3f} {r['test_fpr']:8.3f} {r['test_tpr']:8.3f}")
    print(f"histogram: {hist}")
    out = Path(args.json) if args.json else run.path / "anomaly.json"
    inside = hist.resolve().parent == run.path.resolve()  # relative to the run, so the folder can move
    write_json(out, {"protocol": protocol, "quantile": args.quantile, "scores": results,
                     "histogram": hist.name if inside else str(hist.resolve())})
    print(f"results: {out}")
    if not args.json:
        rewrite_report(run)
    return 0


def run_fit(args: argparse.Namespace) -> int:
    from .train import run as train

    args.set = [*args.set, f"data.classes=[{','.join(map(str, args.normal_classes))}]"]
    if args.perturb is not None:
        args.set.append(f"data.perturb={args.perturb}")
    return train(args)
