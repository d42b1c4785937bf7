"""Semi-supervised MNIST with few labels (Kingma et al. 2014, Table 1): M2, M1+M2 and scikit-learn baselines.

Protocol: MNIST intensities in [0, 1] (Bernoulli likelihood, as the paper's code), 50,000 training
images (``data.val_fraction`` 1/6 holds out 10,000 for validation, as the paper) of which ``--labels``
keep their label (balanced, 10 per class for 100; ``data.seed`` = the seed draws them and the split),
the 10,000 test images for the error. Each seed trains:

* **M2** (preset ``ssl-m2``: 784-500-[50] softplus encoder/decoder, a 784-500-10 classifier, ``--alpha``
  per labelled example, default 10; the paper's 0.1 N is 0.1) for ``--m2-epochs`` epochs;
* **M1+M2** (preset ``ssl-m1m2``: M2 with 500 units on the 50 latents of the M1 run) for ``--m1m2-epochs``;
* scikit-learn on the same labelled images only: logistic regression and an RBF SVM on the pixels
  and on M1's posterior means (the paper's "M1 + TSVM" row is transductive; these are not).

**M1** (preset ``ssl-m1``: 784-600-600-[50] softplus VAE, unsupervised, all 50,000 training images)
trains once, with seed 0, for ``--m1-epochs`` epochs (or ``--m1-run`` reuses one); every seed's M1+M2
and M1 baselines use it. Adam at learning rate 1e-3, batch 100 unlabelled + ``--labelled-per-batch``
labelled examples; the weights with the best validation bound (a label-free choice: M2's bound on
-log p(x)) are evaluated. ``--jobs 2`` trains two runs at a time (one torch thread each).

Usage::

    nohup nice .venv/bin/python bench/semi_supervised.py --seeds 0,1,2 --jobs 2 --out runs/bench-ssl > ssl.log &
    .venv/bin/python bench/semi_supervised.py --seeds 0 --m1-epochs 1 --m2-epochs 1 --m1m2-epochs 1  # smoke
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
#: The paper's test errors with 100 labels (Kingma et al. 2014, Table 1), percent.
PAPER = {"M2": "11.97 (± 1.71)", "M1+M2": "3.33 (± 0.14)", "M1+TSVM": "11.82 (± 0.25)"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--labels", type=int, default=100, help="training labels kept (balanced over the classes)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (labelled subset, split, initialization)")
    p.add_argument("--m1-epochs", type=int, default=30)
    p.add_argument("--m2-epochs", type=int, default=10)
    p.add_argument("--m1m2-epochs", type=int, default=40)
    p.add_argument("--labelled-per-batch", type=int, default=10)
    p.add_argument("--alpha", type=float, default=10.0,
                   help="weight of the classification term (the presets' 10; the paper's 0.1 is for 3000 epochs)")
    p.add_argument("--models", default="m2,m1m2,baselines", help="what to run per seed")
    p.add_argument("--m1-run", help="reuse this trained M1 run instead of training one")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at a time (processes)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    p.add_argument("--data", default=f"mnist:{ROOT.parent / 'shared' / 'data' / 'mnist'}",
                   help="data spec (default MNIST; `digits --labels 50` makes a quick smoke run)")
    p.add_argument("--out", default="runs/bench-ssl", help="run directories and results.json")
    return p.parse_args()


def data_section(args: argparse.Namespace, seed: int) -> dict:
    return {"spec": args.data, "val_fraction": 1 / 6, "seed": seed, "labelled": args.labels}


def config(args: argparse.Namespace, kind: str, seed: int, m1_run: str | None) -> dict:
    """The run config of ``kind`` (m1, m2, m1m2) for ``seed``."""
    from vaekit.config import to_dict
    from vaekit.train.config import build_run_config

    epochs = {"m1": args.m1_epochs, "m2": args.m2_epochs, "m1m2": args.m1m2_epochs}[kind]
    overrides = [("name", f"{kind}-seed{seed}"), ("out_dir", args.out), ("train.epochs", epochs),
                 ("train.seed", seed), ("train.progress", False), ("train.tensorboard", False),
                 ("train.labelled_per_batch", args.labelled_per_batch)]
    overrides += [(f"data.{k}", v) for k, v in data_section(args, seed).items() if kind != "m1" or k != "labelled"]
    if kind != "m1":
        overrides.append(("model.alpha", args.alpha))
    if kind == "m1m2":
        overrides.append(("model.m1_run", m1_run))
    return to_dict(build_run_config(f"ssl-{kind}", None, overrides))


def train_and_score(cfg: dict, threads: int) -> dict:
    """Train one run (in a worker process) and score its classifier on the test split."""
    import vaekit
    from vaekit.evaluate.latent_stats import classification_error

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    run = vaekit.train(cfg)
    out = {"run": str(run.path), "seconds": time.perf_counter() - t0, "test_nelbo": run.info["test"]["nelbo"],
           "epochs": run.info["epochs_done"], "best_epoch": run.info["best_epoch"]}
    if run.model.classifies:
        splits, _ = vaekit.data.load_data(run.config.data)
        out.update(classification_error(run.model, splits.test.x, splits.test.y, transform=run.preprocessor))
    return out


def baselines(args: argparse.Namespace, seed: int, m1_run: str, threads: int) -> dict:
    """Test errors of logistic regression and an RBF SVM on the labelled pixels and on M1's means."""
    import vaekit
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC
    from vaekit.config import from_dict
    from vaekit.data import DataConfig, load_data
    from vaekit.evaluate.latent_stats import posterior_means

    torch.set_num_threads(threads)
    splits, pre = load_data(from_dict(DataConfig, data_section(args, seed)))
    kept = splits.train.y >= 0
    x_fit, y_fit = pre(splits.train.x[kept]), splits.train.y[kept]
    x_test, y_test = pre(splits.test.x), splits.test.y
    m1 = vaekit.open_run(m1_run)
    inputs = {"pixels": (x_fit.flatten(1), x_test.flatten(1)),
              "M1 means": (posterior_means(m1.model, x_fit), posterior_means(m1.model, x_test))}
    out = {}
    for name, (fit, test) in inputs.items():
        for clf_name, clf in (("logistic", LogisticRegression(max_iter=5000)), ("SVM (RBF)", SVC())):
            clf.fit(fit.double().numpy(), y_fit.numpy())
            out[f"{name} + {clf_name}"] = float((clf.predict(test.double().numpy()) != y_test.numpy()).mean())
    return out


def pool(args: argparse.Namespace) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn"))


def submit_m1m2(ex: ProcessPoolExecutor, args: argparse.Namespace, seeds: list[int], m1_run: str) -> dict:
    if "m1m2" not in args.models.split(","):
        return {}
    return {(seed, "m1m2"): ex.submit(train_and_score, config(args, "m1m2", seed, m1_run), args.threads)
            for seed in seeds}


def run_all(args: argparse.Namespace) -> dict:
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    results: dict = {"args": vars(args), "seeds": {}}
    with pool(args) as ex:
        m1 = None if args.m1_run else ex.submit(train_and_score, config(args, "m1", 0, None), args.threads)
        jobs = {}
        if args.m1_run:  # the longer M1+M2 runs first
            jobs.update(submit_m1m2(ex, args, seeds, args.m1_run))
        jobs.update({(seed, "m2"): ex.submit(train_and_score, config(args, "m2", seed, None), args.threads)
                     for seed in seeds if "m2" in models})  # M2 needs no M1: trains beside it
        if m1 is not None:
            results["m1"] = m1.result()
            print(f"m1: {json.dumps(results['m1'])}", flush=True)
            jobs.update(submit_m1m2(ex, args, seeds, results["m1"]["run"]))
        m1_run = args.m1_run or results["m1"]["run"]
        if "baselines" in models:
            jobs.update({(seed, "baselines"): ex.submit(baselines, args, seed, m1_run, args.threads) for seed in seeds})
        for (seed, kind), job in jobs.items():
            results["seeds"].setdefault(seed, {})[kind] = job.result()
            print(f"seed {seed} {kind}: {json.dumps(job.result())}", flush=True)
    results["m1_run"] = m1_run
    return results


def table(results: dict) -> str:
    """Markdown table: test error (%) per row, mean ± sd over seeds and each seed's value."""
    rows: dict[str, list[float]] = {}
    for per_seed in results["seeds"].values():
        for kind, name in (("m2", "M2"), ("m1m2", "M1+M2")):
            if kind in per_seed:
                rows.setdefault(name, []).append(100 * per_seed[kind]["classification_error"])
        for name, err in per_seed.get("baselines", {}).items():
            rows.setdefault(name, []).append(100 * err)
    lines = ["| model | test error (%), mean ± sd | per seed | paper (100 labels) |", "|---|---|---|---|"]
    for name, errs in rows.items():
        sd = statistics.stdev(errs) if len(errs) > 1 else 0.0
        paper = PAPER.get(name, PAPER["M1+TSVM"] + " (M1+TSVM)" if name.startswith("M1 means") else "")
        lines.append(f"| {name} | {statistics.mean(errs):.2f} ± {sd:.2f} | {', '.join(f'{e:.2f}' for e in errs)} "
                     f"| {paper} |")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = run_all(args)
    results["seconds"] = time.perf_counter() - t0
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"total {results['seconds'] / 60:.1f} min; {sys.argv}")


if __name__ == "__main__":
    main()
