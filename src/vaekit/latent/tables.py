"""Tables from a trained run: fill missing cells (``impute``) and draw new rows (``synthesize``).

Imputation follows MIWAE (Mattei & Frellsen 2019, Sec. 4.2). For a row with observed cells x_o,
K draws z_k ~ q(z | x_o) (the encoder sees zero-filled cells and the missing-cell indicators) get
self-normalized importance weights w_k proportional to p(x_o | z_k) p(z_k) / q(z_k | x_o), where the
likelihood counts only the observed cells. Then:

- :func:`impute` (single imputation): the importance-weighted conditional mean
  E[x_m | x_o] ~ sum_k w_k E[x_m | z_k] for numeric columns (over every mode of a mode-normalized
  one), and the most probable category under sum_k w_k p(x_m | z_k) for categorical and binary ones.
- :func:`impute_draws` (multiple imputation): sampling importance resampling, each draw picks z_k
  with probability w_k per row and then x_m ~ p(x_m | z_k).

Observed cells are returned as they were. Both need a model with one stochastic layer (the weights
use ``encode``/``decode``/``prior``) and a run trained with ``data.missing: mask``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..data import SourceData, load_source
from ..device import evaluating
from ..errors import ConfigError, DataError
from ..models import VAE
from ..models.base import repeat_batch
from ..run import Run
from ..tabular.codec import TableCodec, numeric_values
from ..tabular.columns import Table

if TYPE_CHECKING:
    import pandas as pd

#: Rows per importance-sampling batch (each holds K decoded rows per row).
IMPUTE_BATCH = 256


def read_table(run: Run, spec: str, overrides: dict | None = None) -> SourceData:
    """The table ``spec`` (e.g. ``csv:FILE``) read with the run's data settings (label column, ...)
    and ``overrides`` of them (``{"label_column": None}``); every row, unsplit."""
    cfg = dataclasses.replace(run.config.data, spec=spec, **(overrides or {}))
    src = load_source(cfg)
    if src.table is None:
        raise DataError(f"{spec}: not a table (csv:FILE)")
    _columns(run)
    return src


def _columns(run: Run) -> TableCodec:
    if run.columns is None:
        raise ConfigError(f"{run.path}: the run was not trained on a table (no columns.json)")
    return run.columns


def _frame_table(data) -> Table:
    import pandas as pd

    if isinstance(data, Table):
        return data
    if isinstance(data, pd.DataFrame):
        return Table(data, "DataFrame", "row")
    raise DataError(f"expected a pandas DataFrame, got {type(data).__name__}")


def _labels(model: VAE, y, n: int, device) -> torch.Tensor | None:
    if not model.conditional:
        return None
    if y is None:
        raise DataError("the conditional model needs the rows' labels")
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if y.shape != (n,):
        raise DataError(f"{n} rows but labels of shape {tuple(y.shape)}")
    return y.to(device)


def _weighted_draws(model: VAE, x: torch.Tensor, y: torch.Tensor | None, k: int):
    """``(w (k, B), px)``: self-normalized importance weights and p(x | z_k) for the k * B draws."""
    q = model.encode(x, y)
    z = q.rsample(k)  # (k, B, Z)
    px = model.decode(z.flatten(0, 1), None if y is None else repeat_batch(y, k))
    log_px = px.log_prob(repeat_batch(x, k)).view(k, x.shape[0])  # observed cells only
    log_w = log_px + model.prior().log_prob(z) - q.log_prob(z)  # (k, B)
    return torch.softmax(log_w, dim=0), px


def _check_model(model: VAE, codec: TableCodec, k: int) -> None:
    if codec.missing != "mask":
        raise ConfigError("imputation needs a run trained with data.missing: mask (its columns have no "
                          "missing-cell indicators)")
    if type(model).importance_terms is not VAE.importance_terms:
        raise ConfigError(f"imputation needs a model with one stochastic layer; {model.config.name!r} has several")
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")


def _encoded(run: Run, table: Table) -> torch.Tensor:
    return torch.from_numpy(_columns(run).encode(table))


@torch.no_grad()
def impute(run: Run, data, y=None, k: int = 100, seed: int = 0) -> "pd.DataFrame":
    """The rows of ``data`` with every missing cell of a modelled column filled (single imputation).

    Args:
        run: a run trained on a table with ``data.missing: mask``.
        data: a ``pandas.DataFrame`` (or a :class:`~vaekit.tabular.columns.Table`) with the run's columns.
        y: labels ``(N,)`` of the rows (conditional models only).
        k: importance samples per row.
        seed: seed of the draws (the global RNG state is left as it was).
    Returns a copy of ``data`` (same index and columns); missing cells of columns the run does not
    model stay missing.
    """
    codec, table, x = _inputs(run, data, k)
    parts = [_conditional_mean(codec, w, px.mean.reshape(k, b, -1)) for w, px, b in _weighted_batches(run, x, y, k, seed)]
    return fill(table.frame, codec.observed(x), codec.decode(torch.cat([p[0] for p in parts]).numpy(),
                                                             numeric=_join([p[1] for p in parts])), codec)


def _inputs(run: Run, data, k: int) -> tuple[TableCodec, Table, torch.Tensor]:
    """The run's columns, ``data`` as a Table, and its encoded rows ``(N, W)`` (checked for imputation)."""
    codec, table = _columns(run), _frame_table(data)
    _check_model(run.model, codec, k)
    return codec, table, _encoded(run, table)


def _weighted_batches(run: Run, x: torch.Tensor, y, k: int, seed: int):
    """``(w (k, B), px, B)`` per batch of :data:`IMPUTE_BATCH` rows (eval mode, torch seeded with
    ``seed``; the global RNG state is restored when the batches are consumed)."""
    with evaluating(run.model) as device, torch.random.fork_rng(devices=_cuda(device)):
        torch.manual_seed(seed)
        yy = _labels(run.model, y, len(x), device)
        for start in range(0, len(x), IMPUTE_BATCH):
            xb = x[start:start + IMPUTE_BATCH].to(device)
            w, px = _weighted_draws(run.model, xb, None if yy is None else yy[start:start + IMPUTE_BATCH], k)
            yield w, px, len(xb)


def _conditional_mean(codec: TableCodec, w: torch.Tensor, means: torch.Tensor):
    """Weighted mean row ``(B, W)`` (category probabilities) and ``{numeric column: (B,) values}``
    averaged over each draw's own mode mixture."""
    x_bar = (w.unsqueeze(-1) * means).sum(0).cpu()  # (B, W)
    flat = means.flatten(0, 1).cpu().double().numpy()  # (k * B, W)
    wn = w.cpu().double().numpy()
    numeric = {c.name: (wn * numeric_values(flat, c).reshape(wn.shape)).sum(0)
               for c in codec.columns if c.kind == "numeric"}
    return x_bar, numeric


def _join(parts: list[dict]) -> dict:
    return {name: np.concatenate([p[name] for p in parts]) for name in (parts[0] if parts else {})}


@torch.no_grad()
def impute_draws(run: Run, data, draws: int, y=None, k: int = 100, seed: int = 0) -> list["pd.DataFrame"]:
    """``draws`` multiple imputations of ``data`` by sampling importance resampling (see the module
    docstring); arguments as :func:`impute`. Returns one filled copy of ``data`` per draw."""
    if draws < 1:
        raise ConfigError(f"draws must be at least 1, got {draws}")
    codec, table, x = _inputs(run, data, k)
    picked = [[] for _ in range(draws)]
    for w, px, b in _weighted_batches(run, x, y, k, seed):
        rows = torch.arange(b, device=w.device)
        for m in range(draws):
            which = torch.multinomial(w.T, 1).squeeze(1)  # (B,) one z_k per row
            picked[m].append(px.sample().reshape(k, b, -1)[which, rows].cpu())
    observed = codec.observed(x)
    return [fill(table.frame, observed, codec.decode(torch.cat(p)), codec) for p in picked]


def fill(frame: "pd.DataFrame", observed: np.ndarray, imputed: "pd.DataFrame", codec: TableCodec) -> "pd.DataFrame":
    """A copy of ``frame`` whose missing cells (``observed (N, C)`` False) take ``imputed``'s values."""
    out = frame.copy()
    for j, name in enumerate(codec.names):
        gap = ~observed[:, j]
        if gap.any():
            if out[name].dtype != object and imputed[name].dtype == object:
                out[name] = out[name].astype(object)
            out.loc[out.index[gap], name] = imputed[name].to_numpy()[gap]
    return out


@torch.no_grad()
def synthesize(run: Run, n: int, seed: int = 0, temperature: float = 1.0, mean: bool = False) -> "pd.DataFrame":
    """``n`` new rows: z ~ N(0, T^2 I), x ~ p(x | z) (decoder means with ``mean``), as a table.

    Conditional models also draw the label, in the training proportions, and the table gets the
    label column; columns come in the source's order.
    """
    codec = _columns(run)
    if n < 1 or not temperature >= 0:
        raise ConfigError(f"need n >= 1 and temperature >= 0, got n={n}, temperature={temperature}")
    model = run.model
    with evaluating(model) as device, torch.random.fork_rng(devices=_cuda(device)):
        torch.manual_seed(seed)
        y = _synthetic_labels(model, codec, n)
        x = model.sample(n, y=None if y is None else y.to(device), temperature=temperature, mean=mean)
    frame = codec.decode(x.reshape(n, -1))
    if y is not None and codec.label:
        frame[codec.label] = label_cells(y, codec.classes)
    return frame[[c for c in codec.order if c in frame.columns]]


def label_cells(y: torch.Tensor, classes: list | None) -> list:
    """Labels ``(N,)`` as the label column's cells: class names (the numbers without names), None (a
    missing cell) where a row is unlabelled (-1)."""
    return [None if i < 0 else classes[i] if classes else i for i in map(int, y)]


def _synthetic_labels(model: VAE, codec: TableCodec, n: int) -> torch.Tensor | None:
    if not model.conditional:
        return None
    counts = torch.tensor(codec.class_counts or [1] * model.n_classes, dtype=torch.float64)
    return torch.multinomial(counts, n, replacement=True)


def _cuda(device: torch.device) -> list:
    return [device] if device.type == "cuda" else []


#: Most real rows per split (and synthetic rows) a fidelity report compares (a seeded subset beyond).
FIDELITY_MAX_ROWS = 5000


def decoded_split(run: Run, ds, seed: int = 0, max_rows: int = FIDELITY_MAX_ROWS) -> "pd.DataFrame":
    """The rows of an encoded table split back in the original units (missing cells missing), with
    the label column when labelled; at most ``max_rows`` (seeded subset)."""
    codec = _columns(run)
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:max_rows].sort().values
    frame = codec.decode(ds.x[idx], keep_missing=True)
    if ds.y is not None and codec.label:
        frame[codec.label] = label_cells(ds.y[idx], codec.classes)
    return frame


def fidelity(run: Run, seed: int = 0, target: str | None = None) -> tuple[dict, "pd.DataFrame", "pd.DataFrame"]:
    """Synthetic rows of the run against its held-out real rows (test split, else validation).

    As many rows are drawn as the real training rows compared (at most :data:`FIDELITY_MAX_ROWS`),
    so TSTR and TRTR train on equally many rows. See :func:`vaekit.tabular.fidelity.fidelity_report`
    (the target defaults to the label for conditional models).
    Returns ``(report, real held-out rows, synthetic rows)``.
    """
    from ..data import load_data
    from ..tabular.fidelity import fidelity_report

    codec = _columns(run)
    splits, _ = load_data(run.config.data, codec)
    held = splits.test or splits.val
    if held is None:
        raise DataError(f"{run.config.data.spec}: no test or validation rows to compare synthetic rows with")
    real, train = decoded_split(run, held, seed), decoded_split(run, splits.train, seed)
    synthetic = synthesize(run, len(train), seed)
    kinds = {c.name: c.kind for c in codec.columns}
    if codec.label in synthetic.columns:
        kinds[codec.label] = "categorical"
        target = target or codec.label
    report = fidelity_report(real, synthetic, kinds, train, target, seed)
    report.update(n_real=len(real), n_synthetic=len(synthetic), split="test" if splits.test is not None else "val")
    return report, real, synthetic


def table_rows(src: SourceData) -> "pd.DataFrame":
    """Every column of a table source in file order (features as read, the label as its names)."""
    frame = src.table.frame.copy()
    label = src.extra.get("label")
    if label is not None:
        frame[label] = label_cells(src.train.y, src.extra.get("classes"))
    order = src.extra.get("order") or list(frame.columns)
    return frame[[c for c in order if c in frame.columns]]


__all__ = ["FIDELITY_MAX_ROWS", "IMPUTE_BATCH", "decoded_split", "fidelity", "fill", "impute", "impute_draws",
           "read_table", "synthesize", "table_rows"]
