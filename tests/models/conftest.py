"""Model tests run on one intra-op thread: their tensors are tiny, and on a shared CPU extra threads
only add synchronization waits (several times slower under load)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
