"""Fuzzing the file readers: random and mutated bytes either load or raise DataError, nothing else.

Covers the IDX (raw and gzip), amat, npy/npz and CSV readers, each with a bounded number of
examples (hypothesis, no deadline, no example database); set ``VAEKIT_FUZZ_EXAMPLES`` to fuzz longer.
"""

from __future__ import annotations

import gzip
import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.data.files import amat_bytes, idx_bytes
from vaekit.data import DataConfig, DataError
from vaekit.data.sources.amat import read_amat
from vaekit.data.sources.arrays import load_arrays
from vaekit.data.sources.idx import load_idx_pair
from vaekit.data.sources.tabular import read_csv

FUZZ = settings(max_examples=int(os.environ.get("VAEKIT_FUZZ_EXAMPLES", 120)), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` with up to 6 random byte flips, insertions, deletions or a truncation."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


def fuzzed(seed: bytes, max_random: int = 200):
    return st.one_of(st.binary(max_size=max_random), mutated(seed))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def loads_or_data_error(read, path, data: bytes) -> None:
    """Write ``data`` to ``path`` and read it: success or DataError only (anything else fails the test)."""
    path.write_bytes(data)
    try:
        read(path)
    except DataError as exc:
        assert str(exc) and "\n" not in str(exc)


IDX_SEED = idx_bytes(np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3))


@FUZZ
@given(data=fuzzed(IDX_SEED), compress=st.booleans())
def test_idx_reader(folder, data, compress):
    if compress:
        loads_or_data_error(lambda p: load_idx_pair(p, None), folder / "f-images-idx3-ubyte.gz", gzip.compress(data))
    else:
        loads_or_data_error(lambda p: load_idx_pair(p, None), folder / "f-images-idx3-ubyte", data)


@FUZZ
@given(data=fuzzed(gzip.compress(IDX_SEED, mtime=0)))
def test_idx_reader_on_damaged_gzip(folder, data):
    loads_or_data_error(lambda p: load_idx_pair(p, None), folder / "g-images-idx3-ubyte.gz", data)


AMAT_SEED = amat_bytes(np.eye(4, 9, dtype=np.uint8))


@FUZZ
@given(data=st.one_of(fuzzed(AMAT_SEED), st.text("01 \n\r\t.2", max_size=80).map(str.encode)))
def test_amat_reader(folder, data):
    loads_or_data_error(read_amat, folder / "x_train.amat", data)


def _npz_seed() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=np.arange(12, dtype=np.uint8).reshape(3, 4), y=np.array([0, 1, 2]))
    return buf.getvalue()


def _npy_seed() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 2, 2))
    return buf.getvalue()


@FUZZ
@given(data=st.one_of(fuzzed(_npz_seed()), mutated(_npy_seed())))
def test_npz_reader(folder, data):
    loads_or_data_error(lambda p: load_arrays(p, DataConfig()), folder / "a.npz", data)


CSV_SEED = b"a,b,label\n1.5,2,x\n-3,4e2,y\n0,nan,x\n"


@FUZZ
@given(data=st.one_of(fuzzed(CSV_SEED), st.text("0123456789.,;-e\n\"ab ", max_size=80).map(str.encode)),
       label=st.sampled_from([None, "label", "0", "b"]))
def test_csv_reader(folder, data, label):
    cfg = DataConfig(spec="csv:x", label_column=label)
    loads_or_data_error(lambda p: read_csv(p, cfg), folder / "t.csv", data)
