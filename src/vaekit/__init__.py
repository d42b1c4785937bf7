"""vaekit: train, evaluate and use variational autoencoders.

Python API::

    import vaekit
    run = vaekit.train({"data": {"spec": "digits"}, "train": {"epochs": 50}})
    model = vaekit.load(run.path)
    q = model.encode(x)              # posterior: q.mean, q.rsample(), q.kl()
    x_hat = model.reconstruct(x)
    x_new = model.sample(16)
    metrics = vaekit.evaluate(run.path, iw_samples=5000)   # ELBO, IWAE NLL, bits/dim, active units
    run = vaekit.resume(run.path, [("train.epochs", 100)])  # continue from the last checkpoint
    run = vaekit.fit(x_numpy, config={"train": {"epochs": 20}})  # in memory, no files (arrays or DataFrames)
"""

from .version import __version__  # noqa: E402
from .errors import CheckpointError, ConfigError, DataError, TrainingError, VaekitError  # noqa: E402
from .run import Run, load, open_run  # noqa: E402
from .pipeline import resume, train  # noqa: E402
from .train.memory import fit  # noqa: E402
from .evaluate.api import evaluate  # noqa: E402  (the function shadows the subpackage name, like train)

__all__ = ["CheckpointError", "ConfigError", "DataError", "Run", "TrainingError", "VaekitError",
           "__version__", "evaluate", "fit", "load", "open_run", "resume", "train"]
