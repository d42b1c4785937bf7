"""vaekit: train, evaluate and use variational autoencoders.

Python API::

    import vaekit
    run = vaekit.train({"data": {"spec": "digits"}, "train": {"epochs": 50}})
    model = vaekit.load(run.path)
    q = model.encode(x)              # posterior: q.mean, q.rsample(), q.kl()
    x_hat = model.reconstruct(x)
    x_new = model.sample(16)
"""

__version__ = "0.1.0"

from .errors import CheckpointError, ConfigError, DataError, TrainingError, VaekitError  # noqa: E402
from .run import Run, load, open_run  # noqa: E402
from .train.api import train  # noqa: E402

__all__ = ["CheckpointError", "ConfigError", "DataError", "Run", "TrainingError", "VaekitError",
           "__version__", "load", "open_run", "train"]
