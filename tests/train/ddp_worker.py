"""``vaekit`` CLI with the posterior noise set to zero (z = mu), for the DDP equivalence test.

With eps = 0 a training step is deterministic, so one process and several processes with the same
global batch must reach the same weights up to floating-point summation order.
Usage: ``python ddp_worker.py train ...`` or ``torchrun --nproc_per_node 2 ddp_worker.py train ...``.
"""

import sys

import torch

from vaekit.cli import main
from vaekit.distributions import noise_source


def zeros(shape, device, dtype):
    return torch.zeros(shape, device=device, dtype=dtype)


if __name__ == "__main__":
    with noise_source(zeros):
        sys.exit(main(sys.argv[1:]))
