"""A scikit-learn estimator: ``from vaekit.sklearn import VAETransformer``.

    from sklearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    from vaekit.sklearn import VAETransformer

    vae = VAETransformer(latent_dim=4, epochs=50).fit(X)    # NumPy array or pandas DataFrame
    Z = vae.transform(X)                                     # posterior means (N, latent_dim)
    X_hat = vae.inverse_transform(Z)                         # decoder means, in X's units and categories
    normal = vae.score_samples(X)                            # higher = more normal (like IsolationForest)
    X_new = vae.sample(100)                                  # synthetic rows
    make_pipeline(VAETransformer(), LogisticRegression())    # works in Pipeline and GridSearchCV

Training runs in memory with the library's loop (:func:`vaekit.fit`), nothing is written. A NumPy
array is a table of numeric columns (standardized, Gaussian likelihood with learned variance per
column); a DataFrame's columns are detected as numeric, categorical or binary (``column_types``
overrides) and ``inverse_transform`` and ``sample`` return DataFrames with the same columns and
types. ``score`` is the mean ELBO per row in nats (higher is better), so ``GridSearchCV`` without a
``scoring`` compares held-out ELBOs. A pickled estimator holds safetensors bytes and JSON, never a
pickled module.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .data.memory import is_frame
from .device import device_of
from .errors import VaekitError
from .evaluate.anomaly.scores import TABLE_SCORE

#: Checks of ``sklearn.utils.estimator_checks`` this estimator is expected to fail, and why
#: (pass it as ``expected_failed_checks`` to ``check_estimator`` / ``parametrize_with_checks``).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """A VAE as a scikit-learn transformer, density model and generator.

    Args:
        latent_dim: Z, the size of ``transform``'s output.
        hidden: widths of the encoder's hidden layers (the decoder mirrors them).
        epochs, batch_size, lr: Adam training.
        likelihood: "auto" (``tabular``: Gaussian with learned variance per numeric column, softmax
            per categorical, Bernoulli per binary) or a registered likelihood name.
        missing: "error" (NaN / missing cells are a ValueError) or "mask" (allowed and left out of
            the likelihood, MIWAE).
        column_types: ``{column: numeric | categorical | binary | drop}`` for DataFrame columns.
        modes: mode-specific normalization of numeric DataFrame columns (at most this many modes; 0 off).
        validation_fraction: rows held out to pick the best epoch (0: train on all, keep the last).
        anomaly_score: the anomaly score behind ``score_samples`` (a name of ``vaekit.evaluate.anomaly.SCORES``;
            default the tabular recipe's, the importance-sampled negative log-likelihood). Draws are
            common random numbers, so a row's score does not depend on the other rows.
        random_state: seed of the split, the initialization, the batches and the draws.
        device: "cpu", "cuda" or "auto".
        config: further run-config overrides as a nested dict (e.g. ``{"train": {"kl_schedule": "linear"}}``).
    """

    def __init__(self, latent_dim: int = 8, hidden: tuple = (64,), epochs: int = 100, batch_size: int = 64,
                 lr: float = 1e-3, likelihood: str = "auto", missing: str = "error", column_types: dict | None = None,
                 modes: int = 0, validation_fraction: float = 0.1, anomaly_score: str = TABLE_SCORE, random_state: int = 0,
                 device: str = "cpu", config: dict | None = None) -> None:
        self.latent_dim, self.hidden, self.epochs, self.batch_size, self.lr = latent_dim, hidden, epochs, batch_size, lr
        self.likelihood, self.missing, self.column_types, self.modes = likelihood, missing, column_types, modes
        self.validation_fraction, self.anomaly_score, self.random_state = validation_fraction, anomaly_score, random_state
        self.device, self.config = device, config

    # --- fitting ---------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Train on the rows of ``X`` (``y`` is ignored: the model is unsupervised)."""
        from .train.memory import fit

        frame = self._frame(X, reset=True)
        types = self.column_types if self._from_frame else {c: "numeric" for c in frame.columns}
        with _value_errors():
            self.run_ = fit(frame, config=self._run_config(types, len(frame)))
        return self

    def _run_config(self, column_types: dict, n_rows: int) -> dict:
        from .config import deep_merge

        val = self.validation_fraction if n_rows * self.validation_fraction >= 1 else 0.0
        cfg = {"data": {"val_fraction": val, "test_fraction": 0.0, "missing": self.missing,
                        "column_types": column_types, "modes": self.modes, "seed": self.random_state},
               "model": {"latent_dim": self.latent_dim, "net": {"hidden": [int(h) for h in self.hidden]},
                         "likelihood": self.likelihood},
               "train": {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                         "seed": self.random_state, "device": self.device, "progress": False}}
        return deep_merge(cfg, self.config or {})

    def _frame(self, X, reset: bool):
        """``X`` as a DataFrame: DataFrames as they are (columns checked), arrays as numeric columns."""
        import pandas as pd

        if reset:
            self._from_frame = is_frame(X)
        if is_frame(X):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if not reset and not self._from_frame:
                X = X.set_axis([f"x{j}" for j in range(X.shape[1])], axis=1)
            return X.reset_index(drop=True)
        nan = "allow-nan" if self.missing == "mask" else True
        X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite=nan, ensure_min_samples=1)
        return pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])

    # --- using the model ----------------------------------------------------------------------------
    def _encoded(self, X) -> torch.Tensor:
        check_is_fitted(self, "run_")
        frame = self._frame(X, reset=False)
        with _value_errors():
            return torch.from_numpy(self.run_.columns.encode(_table(frame)))

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Posterior means E_q[z | x]: ``(N, latent_dim)`` float64."""
        x = self._encoded(X)
        model = self.run_.model
        device = device_of(model)
        mu = [model.encode(x[i:i + 4096].to(device)).mean.cpu() for i in range(0, len(x), 4096)]
        return torch.cat(mu).double().numpy()

    @torch.no_grad()
    def inverse_transform(self, X) -> np.ndarray:
        """Decoder means E[x | z] of latent rows ``X (N, latent_dim)``, in the units (and, for
        DataFrames, the categories and types) of the training data."""
        from sklearn.utils import check_array

        check_is_fitted(self, "run_")
        z = check_array(X, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.run_.model.latent_dim:
            raise ValueError(f"expected latent rows of width {self.run_.model.latent_dim}, got shape {z.shape}")
        model = self.run_.model
        mean = model.decode(torch.from_numpy(z).to(device_of(model))).mean.cpu()
        return self._output(self.run_.columns.decode(mean.reshape(len(z), -1)))

    def _output(self, frame):
        return frame if self._from_frame else frame.to_numpy(np.float64)

    def score_samples(self, X) -> np.ndarray:
        """Normality per row, higher = more normal (minus the ``score`` anomaly score, nats)."""
        from .data import Dataset
        from .evaluate.anomaly import ScoreOptions, score_dataset

        x = self._encoded(X)
        ds = Dataset(x=x, name="X")
        opts = ScoreOptions(seed=self.random_state, common_noise=True)
        return -score_dataset(self.run_.model, ds, self.run_.preprocessor, [self.anomaly_score], opts)[self.anomaly_score]

    def score(self, X, y=None) -> float:
        """Mean ELBO per row in nats (higher is better)."""
        from .evaluate.likelihood import elbo_per_example

        terms = elbo_per_example(self.run_.model, self._encoded(X), None, batch_size=1000, seed=self.random_state,
                                 common_noise=True)
        return float((terms["log_px"] - terms["kl"].sum(1)).mean())

    def sample(self, n_samples: int = 1, random_state: int | None = None):
        """``n_samples`` synthetic rows (z ~ N(0, I), x ~ p(x | z)), like the training data."""
        from .latent.tables import synthesize

        check_is_fitted(self, "run_")
        seed = self.random_state if random_state is None else random_state
        return self._output(synthesize(self.run_, n_samples, seed))

    @property
    def _n_features_out(self) -> int:
        return self.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "mask"
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = self.device != "cpu"
        return tags

    # --- pickling without pickled modules ---------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if "run_" in state:
            state["run_"] = _run_state(state["run_"])
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("run_"), dict):
            state = dict(state, run_=_restore_run(state["run_"]))
        self.__dict__.update(state)


@contextlib.contextmanager
def _value_errors():
    """The library's one-line errors (a DataError naming the cell) as the ValueError scikit-learn expects."""
    try:
        yield
    except VaekitError as exc:
        raise ValueError(str(exc)) from None


def _table(frame):
    from .tabular.columns import Table

    return Table(frame, "X", "row")


def _run_state(run) -> dict:
    """A fitted run as safetensors bytes and JSON-ready dicts."""
    from safetensors.torch import save

    from .config import to_dict

    weights = {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}
    return {"weights": save(weights), "config": to_dict(run.config), "info": copy.deepcopy(run.info),
            "columns": run.columns.to_json(), "preprocess": save(run.preprocessor.state()) if run.preprocessor.state()
            else None}


def _restore_run(state: dict):
    from safetensors.torch import load

    from .config import from_dict
    from .data import Preprocessor
    from .models import build_model
    from .run import Run
    from .tabular.codec import TableCodec
    from .train.config import RunConfig

    cfg, info = from_dict(RunConfig, state["config"]), state["info"]
    columns = TableCodec.from_json(state["columns"], "pickled VAETransformer")
    model = build_model(cfg.model, tuple(info["sample_shape"]), info.get("n_classes"), columns)
    model.load_state_dict(load(state["weights"]))
    pre = Preprocessor.from_state(info["max_value"], info["binarize"],
                                  load(state["preprocess"]) if state["preprocess"] else {})
    return Run(path=None, config=cfg, info=info, model=model.eval(), preprocessor=pre, columns=columns)


__all__ = ["EXPECTED_FAILED_CHECKS", "VAETransformer"]
