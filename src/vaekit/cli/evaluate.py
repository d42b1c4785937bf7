"""``vaekit evaluate``: likelihood and latent metrics of a trained run, as a table and a JSON file
(``RUN/evaluation.json`` by default, after which the run's report is rewritten with them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import BATCH, SEED, Number, check_outputs


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="negative ELBO, importance-sampled NLL, bits/dim, active units, probe")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--data", metavar="SPEC", help="evaluate on this data spec instead of the run's own")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="data split (default test)")
    p.add_argument("--iw-samples", type=Number(int, 1, 10**6), default=5000, metavar="K",
                   help="importance samples per example for the NLL (default 5000)")
    p.add_argument("--iw-examples", type=Number(int, 1), metavar="N",
                   help="estimate the NLL on a seeded random subset of N examples (default: all)")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights (default best)")
    p.add_argument("--out", metavar="FILE", help="JSON output (default RUN/evaluation.json)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the importance samples, subsets and probe")
    p.add_argument("--budget", type=Number(int, 1, 2**28), metavar="ELEMENTS",
                   help="elements per importance-sampling call (examples x samples x data dims), bounds memory")
    p.add_argument("--batch-size", type=BATCH, default=1000, help="examples per ELBO/encoder batch")
    p.add_argument("--no-probe", action="store_true", help="skip the linear probe")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu or cuda")
    p.add_argument("--threads", type=Number(int, 1, 1024), metavar="N",
                   help="torch CPU threads (default: all physical cores)")
    p.add_argument("--samples", type=Number(int, 0, 10**6), default=0, metavar="N",
                   help="also draw N samples: Frechet distance and precision/recall against N test examples, "
                        "in the features of a classifier trained on the labels (cached)")
    p.add_argument("--sample-prior", choices=["model", "gmm"], default="model",
                   help="prior of --samples: the model's, or a GMM on the training posterior means")
    p.add_argument("--feature-data", metavar="SPEC",
                   help="labelled data for the feature classifier when the run's data has none (e.g. mnist:PATH)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from ..evaluate.api import evaluate
    from ..evaluate.likelihood import DEFAULT_BUDGET
    from ..io import write_json
    from ..run import open_run
    from .report import rewrite_report

    out = Path(args.out) if args.out else Path(args.run) / "evaluation.json"
    check_outputs(out)  # before the evaluation: a read-only run folder costs nothing
    run = open_run(args.run, args.weights, resolve_device(args.device))
    result = evaluate(run, data=args.data, split=args.split, iw_samples=args.iw_samples,
                      iw_examples=args.iw_examples, weights=args.weights, seed=args.seed,
                      budget=args.budget or DEFAULT_BUDGET, batch_size=args.batch_size, probe=not args.no_probe,
                      threads=args.threads, samples=args.samples, sample_prior=args.sample_prior,
                      feature_data=args.feature_data)
    write_json(out, result)
    print(format_table(result))
    print(f"written: {out}")
    if not args.out:
        rewrite_report(run)
    return 0


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _error(r: dict) -> str:
    if r["classification_error"] is None:
        return "n/a (the model does not classify)"
    return f"{100 * r['classification_error']:.2f}% ({r['classification_n']} labelled examples)"


def format_table(r: dict) -> str:
    """The evaluation result as an aligned two-column table."""
    nll_label = f"NLL (IWAE, K={r['iw_samples']}, {r['iw_examples']} ex.)"
    nll = "n/a (no density bound)" if r["nll"] is None else f"{r['nll']:.2f} ± {r['nll_se']:.2f} nats"
    rows = [
        ("run", f"{r['run']} ({r['weights']} weights)"),
        ("data", f"{r['data']} [{r['split']}], {r['n_examples']} examples"),
        ("prior", f"{r['prior']} (rate: {r['rate_estimator']})"),
        ("negative ELBO", f"{r['nelbo']:.2f} ± {r['nelbo_se']:.2f} nats"),
        ("  reconstruction -log p(x|z)", f"{r['distortion']:.2f} nats"),
        ("  KL(q(z|x) || p(z))", f"{r['rate']:.2f} nats"),
        (nll_label, nll),
        ("bits/dim (ELBO / NLL)", f"{_fmt(r['nelbo_bpd'], '.4f')} / {_fmt(r['nll_bpd'], '.4f')}"),
        ("active units (Var[E q(z|x)] > 0.01)", f"{_fmt(r['active_units'], 'd')} / {r['latent_dim']}"),
        ("linear probe accuracy", f"{_fmt(r['probe_accuracy'], '.4f')} (chance {_fmt(r['probe_chance'], '.4f')})"),
        ("classification error q(y|x)", _error(r)),
        *_sample_rows(r),
        *((f"  {k.replace('_', ' ')}", _fmt(v, "g")) for k, v in r["latent_summary"].items()),
        ("importance samples / second", f"{_fmt(r['iw_samples_per_second'], ',.0f')} ({r['threads']} threads)"),
        ("seconds", f"{r['seconds']:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    kl = r["kl_per_dim"]
    if kl is not None:
        lines.append(f"KL per latent dimension ({len(kl)}, nats):")
        lines += ["  " + " ".join(f"{v:6.2f}" for v in kl[i:i + 10]) for i in range(0, len(kl), 10)]
    return "\n".join(lines)


def _sample_rows(r: dict) -> list[tuple[str, str]]:
    """Rows of the sample-quality section (none when no samples were drawn)."""
    if not r["sample_count"]:
        return []
    return [("samples", f"{r['sample_count']} draws, z from {r['sample_prior']}"),
            ("  Frechet distance (classifier features)", f"{r['sample_fd']:.2f} (real vs real: "
                                                         f"{_fmt(r['sample_fd_real'], '.2f')})"),
            (f"  precision / recall (k={r['sample_knn_k']})", f"{r['sample_precision']:.3f} / {r['sample_recall']:.3f}"),
            ("  feature classifier accuracy", f"{_fmt(r['feature_classifier_accuracy'], '.4f')} "
                                              f"({r['feature_data']})")]
