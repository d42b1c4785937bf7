"""A self-contained HTML report of a run: metrics, evaluation, anomaly results, loss curves,
latent-space pictures and the config keys the model uses.

One file (``report.html`` in the run directory): every picture is an embedded base64 PNG, styles are
inline, there is no script and no network request, so it opens anywhere, offline, and can be mailed.
The ``Evaluation`` and ``Anomaly detection`` sections appear once ``vaekit evaluate`` /
``vaekit anomaly eval`` wrote ``evaluation.json`` / ``anomaly.json`` into the run (both rewrite the
report).
"""

from __future__ import annotations

import base64
import html
import json
import logging
from pathlib import Path

import torch
import yaml

from . import figures, latent
from .config import used_dict
from .data import Dataset
from .device import device_of, evaluating
from .errors import CheckpointError, VaekitError
from .evaluate.likelihood import model_bpd
from .io import read_json, write_text
from .run import Run, metrics_row_ok
from .viz import figure_png, loss_figure

log = logging.getLogger(__name__)
#: Examples of the evaluation split used for the report's latent-space pictures.
REPORT_EXAMPLES = 1000
TERMS = (("nelbo", "negative ELBO (nats)"), ("rate", "rate: KL(q(z|x) || p(z)) (nats)"),
         ("distortion", "distortion: -log p(x|z) (nats)"), ("bpd", "bits per dimension"))
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f3f3f3; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; max-width: 60em; }
pre { background: #f6f6f6; padding: .8em; overflow: auto; }
.note { color: #a60; }
.warning { color: #fff; background: #b00; padding: .5em .8em; font-weight: bold; }
"""


def read_history(path: Path) -> list[dict]:
    """The per-epoch rows of ``metrics.jsonl`` (empty when missing).

    A line that is not a usable row (cut short by a killed writer, damaged, edited) is skipped with
    a warning naming it, so the report still shows every good epoch.
    """
    file = path / "metrics.jsonl"
    if not file.is_file():
        return []
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if metrics_row_ok(row, rows[0] if rows else None):
            rows.append(row)
        else:
            log.warning("%s: line %d is not a metrics row (cut short or damaged); skipped", file, number)
    return rows


def write_report(run: Run, ds: Dataset | None = None, history: list[dict] | None = None,
                 path: str | Path | None = None) -> Path:
    """Write the report (default ``RUN/report.html``) and return its path.

    Args:
        ds: examples for the latent-space pictures; None loads the run's evaluation split (test, else
            validation, else train), and the pictures that need data are left out if that fails.
        history: per-epoch metrics; None reads ``metrics.jsonl``.
    """
    path = Path(path) if path is not None else run.path / "report.html"
    write_text(path, build_report(run, ds, history))
    return path


def build_report(run: Run, ds: Dataset | None = None, history: list[dict] | None = None) -> str:
    """The report as one HTML string."""
    history = read_history(run.path) if history is None else history
    notes = []
    if ds is None:
        try:
            ds = latent.load_split(run)
        except VaekitError as exc:
            notes.append(f"data pictures left out: {exc}")
    with evaluating(run.model):
        pictures = _pictures(run, ds, history)
    body = [_header(run, notes), _metrics_section(run, history), _evaluation_section(run), _anomaly_section(run),
            *pictures, _table_section(run), _config_section(run), _epochs_section(history)]
    title = f"vaekit report: {run.path.name}"
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{_esc(title)}</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def _pictures(run: Run, ds: Dataset | None, history: list[dict]) -> list[str]:
    model, pre, names = run.model, run.preprocessor, figures.Names.of(run.info, run.columns)
    out = []
    if history:
        out.append(_figure("Loss curves", loss_figure(history),
                           "Per-epoch means on the training and validation data, each term on its own axis; "
                           "-ELBO = rate + distortion."))
    if ds is not None:
        x, y = figures.eval_batch(ds, pre, device_of(model), REPORT_EXAMPLES)
        recon = figures.reconstruction_figure(model, x[:16], None if y is None else y[:16], pre, names=names)
        out.append(_figure("Reconstructions", recon,
                           f"The first 16 examples of {_esc(ds.name or 'the data')} and their reconstructions."))
    per_class = " (one row per class)" if latent.generates_by_class(model) else ""
    out.append(_figure("Samples", figures.samples_figure(model, pre, 64, names=names),
                       f"Decoder means of 64 draws from the model's prior, {_esc(model.prior_name)}{per_class}."))
    if ds is not None:
        out += _latent_figures(run, ds, x, y, names)
    return out


def _latent_figures(run: Run, ds: Dataset, x: torch.Tensor, y: torch.Tensor | None, names: figures.Names) -> list[str]:
    model, pre, caps = run.model, run.preprocessor, run.model.capabilities
    if not caps.continuous_latent:
        return [f"<p class=\"note\">Latent-space pictures left out: model {_esc(model.config.name)} has a "
                "discrete code, not a vector of real numbers to sweep or project.</p>"]
    usage = latent.active_units(model.encode(x, y).mean) if len(x) > 1 else None
    active = None if usage is None else usage["active"]
    count = "" if usage is None else (f"{usage['active_units']} of {model.latent_dim} dimensions are active "
                                      f"(variance of the posterior means above {usage['threshold']:g}); ")
    if caps.kl_per_dim:
        kl = latent.kl_per_dim(model, x, y)
        out = [_figure("KL per latent dimension", figures.kl_figure(kl, active),
                       f"{count}mean KL over {len(x)} examples, in nats.")]
    else:
        out = [f"<p class=\"note\">{count}no KL per latent dimension: this model's rate is a Monte Carlo "
               "estimate of the whole KL; traversals are ordered by the variance of the posterior means.</p>"]
    if model.latent_dim == 2:
        out.append(_figure("Learned manifold", figures.manifold_figure(model, pre, names=names),
                           "Decoder means over a grid of prior quantiles of the two latent dimensions."))
    out.append(_figure("Latent traversals", figures.traversal_figure(model, x, y, pre, max_dims=10, names=names),
                       "Each row sweeps one latent dimension from -3 to 3 prior standard deviations around the "
                       "prior mean, the others held there; rows are ordered by the dimension's mean KL (or, "
                       "without a KL per dimension, by the variance of its posterior means; at most 10 shown)."))
    if model.classifies:  # semi-supervised models: Kingma et al. 2014, Fig. 1b
        out.append(_figure("Analogies", figures.analogy_figure(model, x[:8], None, pre, names=names),
                           "Each row: an input, then its style (z inferred with the class q(y|x) gives it) "
                           "decoded with every class."))
    if model.latent_dim >= 2 and len(x) >= 3:
        emb = latent.embed(model, ds, pre, index=torch.arange(len(x)))
        proj = figures.projection_figure(latent.project(emb.mu), emb.y, names=names)
        out.append(_figure("Projection of the latent space", proj, "PCA of the posterior means, coloured by class."))
    return out


def _table_section(run: Run) -> str:
    """Runs on a table: synthetic rows against held-out real ones (``vaekit.latent.tables.fidelity``)."""
    if run.columns is None:
        return ""
    from .latent.tables import fidelity
    from .tabular.fidelity import marginals_figure

    title = "<h2>Synthetic rows vs real rows</h2>\n"
    try:
        with evaluating(run.model):
            rep, real, synthetic = fidelity(run)
    except VaekitError as exc:
        return f"{title}<p class=\"note\">left out: {_esc(exc)}</p>"
    head = "<tr><th>column</th><th>kind</th><th>distance</th><th>real (held out)</th><th>synthetic</th></tr>"
    rows = "".join(f"<tr><td>{_esc(c['name'])}</td><td>{_esc(c['kind'])}</td><td class=\"num\">{c['metric']} "
                   f"{_num(c['distance'])}</td><td>{_esc(c['real'])}</td><td>{_esc(c['synthetic'])}</td></tr>"
                   for c in rep["columns"])
    corr, cont, use = rep["correlation"], rep["contingency"], rep["utility"]
    facts = [f"{rep['n_synthetic']} rows drawn (z ~ N(0, I), x ~ p(x|z)) against {rep['n_real']} real "
             f"{rep['split']} rows the model never trained on. KS: Kolmogorov-Smirnov statistic of a numeric "
             f"column; TV: total variation of a categorical or binary one (0 = identical marginals, 1 = disjoint); "
             f"mean over columns {_num(rep['mean_column_distance'])}.",
             f"Pearson correlation difference, mean |r_real - r_synthetic| over {corr['pairs']} pairs of numeric and "
             f"binary columns: {_num(corr['mean'])} (largest {_num(corr['max'])}); contingency TV over "
             f"{cont['pairs']} pairs of categorical/binary columns: {_num(cont['mean'])}."]
    if use:
        facts.append(f"Classifier accuracy predicting <code>{_esc(use['target'])}</code> on the real held-out rows "
                     f"(random forest): trained on real rows (TRTR) {_num(use['trtr_accuracy'])}, trained on "
                     f"synthetic rows (TSTR) {_num(use['tstr_accuracy'])}; majority class {_num(use['majority_accuracy'])}.")
    else:
        facts.append("No TSTR/TRTR accuracy: the synthetic rows have no categorical or binary column to predict.")
    paragraphs = "".join(f"<p>{f}</p>" for f in facts)
    figure = _figure("Marginals", marginals_figure(real, synthetic, {c["name"]: c["kind"] for c in rep["columns"]}),
                     "Histograms and category frequencies of real held-out and synthetic rows (at most 12 columns).")
    return f"{title}{paragraphs}<table>{head}{rows}</table>\n{figure}"


def _figure(title: str, fig, caption: str, level: int = 2) -> str:
    return _image(title, figure_png(fig), caption, level)


def _image(title: str, png: bytes, caption: str, level: int = 2) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f"<h{level}>{_esc(title)}</h{level}>\n<figure><img src=\"data:image/png;base64,{data}\" "
            f"alt=\"{_esc(title)}\"><figcaption>{caption}</figcaption></figure>")


def _read_result(path: Path) -> dict | None:
    """A JSON result file of the run (None when missing or unreadable)."""
    if not path.is_file():
        return None
    try:
        result = read_json(path)
    except CheckpointError as exc:
        log.warning("%s", exc)
        return None
    return result if isinstance(result, dict) else None


def _pm(r: dict, key: str, unit: str = " nats") -> str:
    value, se = r.get(key), r.get(f"{key}_se")
    return "-" if value is None else f"{value:.2f} ± {se:.2f}{unit}" if se is not None else f"{value:.2f}{unit}"


def _classification_fact(r: dict) -> list[tuple[str, str]]:
    """The test error of a semi-supervised model's classifier q(y|x), when it has one."""
    if r.get("classification_error") is None:
        return []
    return [("classification error q(y|x)",
             f"{100 * r['classification_error']:.2f}% ({r.get('classification_n')} labelled examples)")]


def _evaluation_section(run: Run) -> str:
    """``evaluation.json`` (``vaekit evaluate``): likelihoods, active units, probe, and their figures."""
    r = _read_result(run.path / "evaluation.json")
    if r is None or "nll" not in r:
        return ""
    facts = [("data", f"{r.get('data')} [{r.get('split')}], {r.get('n_examples')} examples, {r.get('weights')} weights"),
             ("negative ELBO", _pm(r, "nelbo")),
             (f"NLL (IWAE, K={r.get('iw_samples')}, {r.get('iw_examples')} examples)", _pm(r, "nll")),
             ("bits/dim (ELBO / NLL)", f"{_num(r.get('nelbo_bpd'))} / {_num(r.get('nll_bpd'))}"),
             (f"active units (Var of E q(z|x) > {r.get('active_threshold')})",
              f"{_num(r.get('active_units'))} / {r.get('latent_dim')}"),
             ("linear probe accuracy", f"{_num(r.get('probe_accuracy'))} (chance {_num(r.get('probe_chance'))})"),
             *_classification_fact(r),
             ("seconds", _num(r.get("seconds")))]
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in facts)
    out = [f"<h2>Evaluation</h2>\n<table>{rows}</table>"]
    kl, variance = r.get("kl_per_dim"), r.get("posterior_mean_variance")
    if kl:
        active = torch.tensor(variance) > r["active_threshold"] if variance and len(variance) == len(kl) else None
        out.append(_figure("KL per latent dimension (evaluation)", figures.kl_figure(torch.tensor(kl), active),
                           f"Mean KL over the {r.get('n_examples')} evaluated examples.", level=3))
    if variance:
        out.append(_figure("Active units", figures.activity_figure(variance, r["active_threshold"]),
                           "Variance over examples of each dimension's posterior mean (Burda et al. 2015, "
                           "Sec. 5.2); a unit is active above the dashed line.", level=3))
    return "\n".join(out)


def _anomaly_section(run: Run) -> str:
    """``anomaly.json`` (``vaekit anomaly eval``): detection metrics per score and the histograms."""
    r = _read_result(run.path / "anomaly.json")
    if r is None or not isinstance(r.get("scores"), dict):
        return ""
    keys = ("auroc", "auprc", "fpr95", "threshold", "test_fpr", "test_tpr")
    head = "".join(f"<th>{k}</th>" for k in ("score", *keys))
    rows = "".join(f"<tr><th>{_esc(name)}</th>" + _cells(m.get(k) for k in keys) + "</tr>"
                   for name, m in r["scores"].items() if isinstance(m, dict))
    out = [f"<h2>Anomaly detection</h2>\n<p>{_esc(r.get('protocol', ''))}; threshold: the {_esc(r.get('quantile'))} "
           f"quantile of normal validation scores.</p>\n<table><tr>{head}</tr>{rows}</table>"]
    hist = run.path / str(r.get("histogram", ""))  # relative to the run folder, or absolute
    if r.get("histogram") and hist.is_file():
        out.append(_image("Anomaly score histograms", hist.read_bytes(),
                          "Normal vs anomalous test scores with the threshold; AUROC per panel.", level=3))
    return "\n".join(out)


def _header(run: Run, notes: list[str]) -> str:
    info, cfg = run.info, run.config
    facts = [("model", cfg.model.name), ("latent dimensions", cfg.model.latent_dim),
             ("likelihood", cfg.model.likelihood), ("data", info.get("data_spec")),
             ("example shape", "x".join(map(str, info.get("sample_shape", [])))),
             ("train / val / test examples", f"{info.get('n_train')} / {info.get('n_val')} / {info.get('n_test')}"),
             ("status", info.get("status")), ("epochs", info.get("epochs_done")),
             ("best epoch", info.get("best_epoch")),
             ("created", info.get("created")), ("vaekit", info.get("vaekit_version"))]
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in facts)
    extra = "".join(f"<p class=\"note\">{_esc(n)}</p>" for n in notes)
    extra += "".join(f"<p class=\"warning\">Warning: {_esc(w)}</p>" for w in info.get("warnings", []))
    return f"<h1>vaekit run <code>{_esc(run.path.name)}</code></h1>\n<table>{rows}</table>{extra}"


def _metrics_section(run: Run, history: list[dict]) -> str:
    best = next((r for r in history if r["epoch"] == run.info.get("best_epoch")), history[-1] if history else {})
    cols = [(f"train (epoch {best.get('epoch', '-')})", _split_terms(best, "train", run.model)),
            (f"validation (epoch {best.get('epoch', '-')})", _split_terms(best, "val", run.model)),
            ("test (best weights)", run.info.get("test", {}))]
    cols = [(name, terms) for name, terms in cols if terms]
    if not cols:
        return "<h2>Metrics</h2>\n<p>No metrics recorded yet.</p>"
    head = "".join(f"<th>{_esc(name)}</th>" for name, _ in cols)
    rows = "".join(f"<tr><th>{_esc(label)}</th>" + _cells(t.get(key) for _, t in cols) + "</tr>"
                   for key, label in TERMS)
    return (f"<h2>Metrics</h2>\n<table><tr><th>per example</th>{head}</tr>{rows}</table>"
            "<p>Train and validation columns are the epoch of the best validation -ELBO (the weights "
            "used for the test column and the pictures).</p>")


def _split_terms(row: dict, split: str, model) -> dict:
    terms = {k: row[f"{split}_{k}"] for k in ("nelbo", "rate", "distortion") if f"{split}_{k}" in row}
    if "nelbo" in terms:
        terms["bpd"] = model_bpd(model, terms["nelbo"])
    return terms


def _config_section(run: Run) -> str:
    """The config keys that apply to this run (e.g. no conv settings for an MLP); config.yaml has all."""
    text = yaml.safe_dump(used_dict(run.config), sort_keys=False)
    return (f"<h2>Config</h2>\n<pre>{_esc(text)}</pre><p>Settings that do not apply to this model are left out; "
            "<code>config.yaml</code> in the run folder has every key.</p>")


def _epochs_section(history: list[dict]) -> str:
    if not history:
        return ""
    keys = [k for k in history[0] if k not in ("best",)]
    head = "".join(f"<th>{_esc(k)}</th>" for k in keys)
    rows = "".join("<tr>" + _cells(r.get(k) for k in keys) + "</tr>" for r in history)
    return f"<details><summary>All epochs ({len(history)})</summary><table><tr>{head}</tr>{rows}</table></details>"


def _cells(values) -> str:
    return "".join(f"<td class=\"num\">{_num(v)}</td>" for v in values)


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e-3 or abs(v) >= 1e5 else f"{v:.4f}".rstrip("0").rstrip(".")
    return "-" if v is None else _esc(v)


def _esc(v) -> str:
    return html.escape(str(v))
