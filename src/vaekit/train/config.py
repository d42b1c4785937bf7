"""Training configuration and the full run configuration (data + model + train)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..data import DataConfig
from ..data.corrupt import Corruption, as_corruptions
from ..device import PRECISIONS, check_device_name
from ..config import build_strict, used_if
from ..errors import ConfigError
from ..io import check_file_name
from ..limits import check_seed
from ..models import ModelConfig
from ..schedules import check_kind


@dataclass
class TrainConfig:
    """Optimization settings.

    Attributes:
        epochs: passes over the training split.
        batch_size: examples per optimizer step (the global batch when several processes train).
        lr: Adam learning rate.
        seed: seed of the initialization, the data order and the draws of training; seeded runs are
            reproducible on CPU.
        device: "auto" (CUDA when available), "cpu" or "cuda".
        eval_batch_size: batch size for validation/evaluation passes.
        kl_schedule: "constant", "linear" (warm-up) or "cyclical" (Fu et al. 2019).
        kl_max: final KL weight of the schedule.
        warmup_epochs: linear warm-up length in epochs.
        n_cycles, cycle_ratio: cyclical schedule shape.
        free_bits: free-bits lambda in nats per group (Kingma et al. 2016); 0 disables.
        free_bits_group: latent dimensions per free-bits group.
        grad_clip: max gradient norm (gradients are scaled down to it), or None.
        skip_threshold: skip an update whose gradient norm (before clipping) exceeds this (vdvae's
            ``skip_threshold``), or None.
        max_nonfinite: consecutive non-finite steps tolerated (skipped) before training stops.
        progress: show progress within epochs (a bar on a terminal, else heartbeat log lines).
        precision: "fp32", "bf16" (autocast; CPU or CUDA) or "fp16" (autocast + grad scaler; CUDA).
        compile: wrap the loss computation in ``torch.compile`` (opt-in; first steps compile).
        channels_last: channels-last memory format for 2-D conv models; None: on CUDA only.
        checkpoint_every: also checkpoint every this many steps within an epoch (0: epoch ends only).
        checkpoint_minutes: also checkpoint when this many minutes passed since the last one (0: off).
        tensorboard: write TensorBoard event files to ``RUN/tensorboard`` (scalars, images, latent
            histograms); None: on when the ``tensorboard`` package is installed.
        log_every: steps between per-step scalars in the trackers (per-epoch ones are always logged).
        mlflow: log params, metrics and figures to MLflow (needs ``vaekit[mlflow]``).
        mlflow_uri: MLflow tracking URI; None: ``$MLFLOW_TRACKING_URI``, else a local file store
            ``<out_dir>/mlruns``.
        labelled_per_batch: labelled examples appended to every batch, drawn anew each step, when the
            training split mixes labelled and unlabelled examples (``data.labelled``); 0: none.
        corrupt: corruptions of the training batches, applied in order (a denoising VAE, Im et al.
            2017): the encoder sees the corrupted x~ and the loss scores the clean x; validation and
            test metrics stay on clean data. One entry or a list; an entry is a mapping or a
            ``KIND:PARAM`` string (``gaussian:0.3``). Empty: none.
    """

    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 1000
    kl_schedule: str = "constant"
    kl_max: float = 1.0
    warmup_epochs: float = used_if(lambda c: c.kl_schedule == "linear", default=0.0)
    n_cycles: int = used_if(lambda c: c.kl_schedule == "cyclical", default=4)
    cycle_ratio: float = used_if(lambda c: c.kl_schedule == "cyclical", default=0.5)
    free_bits: float = 0.0
    free_bits_group: int = used_if(lambda c: c.free_bits > 0, default=1)
    grad_clip: float | None = None
    skip_threshold: float | None = None
    max_nonfinite: int = 10
    progress: bool = True
    precision: str = "fp32"
    compile: bool = False
    channels_last: bool | None = None
    checkpoint_every: int = 0
    checkpoint_minutes: float = 0.0
    tensorboard: bool | None = None
    log_every: int = 50
    mlflow: bool = False
    mlflow_uri: str | None = used_if(lambda c: c.mlflow, default=None)
    labelled_per_batch: int = 10
    corrupt: list[Corruption] = field(default_factory=list)

    @classmethod
    def __from_dict__(cls, data, path: str) -> "TrainConfig":
        """Strict loading; a single ``corrupt`` entry (a mapping or a string) stands for a list of one."""
        if isinstance(data, dict) and isinstance(data.get("corrupt"), (dict, str)):
            data = {**data, "corrupt": [Corruption.__from_dict__(data["corrupt"], f"{path}corrupt.")]}
        return build_strict(cls, data, path)

    def __post_init__(self) -> None:
        self.corrupt = as_corruptions(self.corrupt)
        for key in ("epochs", "batch_size", "eval_batch_size", "n_cycles", "free_bits_group", "max_nonfinite",
                    "log_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key} must be at least 1, got {getattr(self, key)}")
        check_seed(self.seed, "train.seed")
        if not 0 < self.lr < math.inf:
            raise ConfigError(f"train.lr must be a finite positive number, got {self.lr}")
        check_device_name(self.device, "train.device")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.checkpoint_every < 0 or self.checkpoint_minutes < 0 or self.labelled_per_batch < 0:
            raise ConfigError("train.checkpoint_every, train.checkpoint_minutes and train.labelled_per_batch "
                              "must be non-negative")
        for key in ("grad_clip", "skip_threshold"):
            value = getattr(self, key)
            if value is not None and not 0 < value < math.inf:
                raise ConfigError(f"train.{key} must be a finite positive number or null, got {value}")
        check_kind(self.kl_schedule)
        if not 0 < self.cycle_ratio <= 1:
            raise ConfigError(f"train.cycle_ratio must lie in (0, 1], got {self.cycle_ratio}")
        if self.free_bits < 0 or self.kl_max < 0 or self.warmup_epochs < 0:
            raise ConfigError("train.free_bits, train.kl_max and train.warmup_epochs must be non-negative")


@dataclass
class RunConfig:
    """Everything a run needs; saved as ``config.yaml`` in the run directory.

    Attributes:
        name: run directory name under ``out_dir`` (default: ``<model>-<source>``); one path
            component (no ``/``, not ``..``), so a run never lands outside ``out_dir``.
        out_dir: parent folder of run directories.
        data: where the data comes from and how it is prepared.
        model: the model and its networks (``model.name`` picks the registered model).
        train: optimization, KL schedule, precision and checkpoints.
    """

    name: str | None = None
    out_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.name is not None:
            check_file_name(self.name, "name")


def build_run_config(preset: str | None = None, file: str | None = None,
                     overrides: list[tuple[str, object]] = ()) -> RunConfig:
    """Merge, in order: defaults < named preset < YAML file < dotted overrides; then validate.

    Args:
        preset: a registered preset name (see ``vaekit.models.PRESETS``).
        file: path of a YAML run config (its own ``preset:`` key is applied first).
        overrides: ``("train.lr", 3e-4)`` pairs (from ``--set`` and CLI flags).
    """
    from ..config import deep_merge, from_dict, read_yaml, set_dotted
    from ..models import PRESETS

    data: dict = {}
    file_data = read_yaml(file) if file else {}
    for name in (file_data.pop("preset", None), preset):
        if name:
            data = deep_merge(data, PRESETS.get(name))
    data = deep_merge(data, file_data)
    for key, value in overrides:
        set_dotted(data, key, value)
    return from_dict(RunConfig, data)
