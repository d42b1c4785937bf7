"""``vaekit.fit(x, ...)``: train on arrays or DataFrames in memory, without a run folder.

The same data preparation, model and training loop as ``vaekit.train``; nothing is written. The
returned :class:`~vaekit.run.Run` has ``path`` None and the best-validation weights (the last when
there is no validation split).
"""

from __future__ import annotations

import copy
import logging

import torch

from ..config import from_dict
from ..data import prepare
from ..data.memory import from_memory
from ..device import resolve_device
from ..models import build_model
from ..run import Run, open_run, resolve_likelihood
from .api import run_info
from .config import RunConfig
from .loop import Trainer

log = logging.getLogger(__name__)


def fit(x, y=None, config: RunConfig | dict | None = None) -> Run:
    """Train a model on ``x`` held in memory.

    Args:
        x: a NumPy array of images ``(N, H, W)``, ``(N, H, W, C)``, ``(N, C, H, W)`` or vectors
            ``(N, D)`` (8-bit integers are scaled to [0, 1] as in ``npz`` files), or a pandas DataFrame
            (a table: columns detected and encoded as for ``csv`` files).
        y: ``(N,)`` labels (conditional models, ``data.classes``), or None.
        config: a run config (dict or :class:`RunConfig`); ``data.spec``, ``name`` and ``out_dir`` are
            ignored. ``model.likelihood: auto`` (the default) picks ``tabular`` for DataFrames.
    Returns the trained run (``run.model`` in eval mode, ``run.preprocessor``, ``run.columns`` for tables).
    """
    src = from_memory(x, y)
    cfg = config if isinstance(config, RunConfig) else from_dict(RunConfig, copy.deepcopy(config or {}))
    splits, pre = prepare(src, cfg.data)
    cfg = resolve_likelihood(cfg, splits, pre)
    device = resolve_device(cfg.train.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.train.seed)
        model = build_model(cfg.model, splits.train.sample_shape, splits.train.n_classes, splits.columns)
        model.warm_start(lambda run_dir: open_run(run_dir).model)  # weights of runs it builds on (M1+M2's M1)
        trainer = Trainer(model, splits, pre, cfg.train, device)
        best = _BestWeights()
        trainer.on_epoch_end.append(best.keep)
        history = trainer.fit()
    model.load_state_dict(best.state or model.state_dict())
    info = {**run_info(cfg, splits, cfg.data.binarize), "data_spec": "memory", "status": "finished",
            "epochs_done": len(history), "best_epoch": trainer.state.best_epoch, "history": history}
    log.info("trained %s in memory on %d examples", cfg.model.name, len(splits.train))
    return Run(path=None, config=cfg, info=info, model=model.eval(), preprocessor=pre, columns=splits.columns)


class _BestWeights:
    """An epoch hook keeping a copy of the weights of the best validation epoch so far."""

    def __init__(self) -> None:
        self.state: dict | None = None

    def keep(self, trainer: Trainer, row: dict) -> None:
        if row["best"]:
            self.state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


__all__ = ["fit"]
