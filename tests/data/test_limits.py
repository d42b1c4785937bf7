"""Bounded memory for every data input: labels, decompressed sizes, declared array sizes, image pixels.

The hostile files here are tiny; each would have made vaekit allocate gigabytes before it failed
(or succeeded with absurd class counts). Where memory is the point, the reader runs in a subprocess
whose address space is capped (``limited``), so a regression fails instead of swapping the machine.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import error_lines
from tests.data.files import idx_bytes, write_image
from vaekit.data import DataConfig, DataError, Dataset, load_data
from vaekit.data.sources.idx import read_idx
from vaekit.errors import ConfigError
from vaekit.limits import CLASS_LIMIT_FLOOR, MAX_IMAGE_SIZE_PIXELS

ROOT = Path(__file__).resolve().parents[2]


PREAMBLE = """
import json, resource, sys, time, traceback
import vaekit.cli, vaekit.data.sources
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmPeak"))
limit = peak * 1024 + MEMORY_MB * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
t0 = time.perf_counter()
try:
CODE
    out = {"result": result}
except BaseException:
    out = {"crash": traceback.format_exc()[-2000:]}
out["seconds"] = time.perf_counter() - t0
out["peak_mb"] = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(json.dumps(out))
"""


def limited(code: str, memory_mb: int = 300, timeout: float = 120) -> dict:
    """Run ``code`` (which sets ``result``) in a fresh interpreter whose address space may grow by at
    most ``memory_mb`` beyond its imports; returns ``{"result", "seconds", "peak_mb"}`` (``seconds``:
    the code alone, imports excluded; ``peak_mb``: the whole process's peak resident memory, VmHWM)
    or ``{"crash": traceback}``."""
    body = textwrap.indent(textwrap.dedent(code).strip(), "    ")
    program = PREAMBLE.replace("MEMORY_MB", str(memory_mb)).replace("CODE", body)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


# --- labels -----------------------------------------------------------------------------------------
def test_a_label_of_1e8_is_one_line_before_anything_is_allocated_per_class(tmp_path):
    y = np.zeros(10, np.int64)
    y[3] = 10**8
    f = _npz(tmp_path / "f.npz", x=np.zeros((10, 4), np.float32), y=y)
    with pytest.raises(DataError) as info:
        load_data(DataConfig(spec=f"npz:{f}"))
    message = str(info.value)
    assert "\n" not in message and "f.npz[y]" in message and "100,000,000" in message
    assert f"max(examples, {CLASS_LIMIT_FLOOR:,})" in message


def test_the_class_limit_grows_with_the_number_of_examples(tmp_path):
    n = CLASS_LIMIT_FLOOR + 10
    x = np.zeros((n, 2), np.uint8)
    ok = load_data(DataConfig(spec=f"npz:{_npz(tmp_path / 'ok.npz', x=x, y=np.arange(n))}", val_fraction=0))
    assert ok[0].train.n_classes == n
    with pytest.raises(DataError, match="labels outside the expected range"):
        Dataset(x=torch.zeros(5, 2), y=torch.tensor([0, 1, 2, 3, CLASS_LIMIT_FLOOR]))
    top = Dataset(x=torch.zeros(5, 2), y=torch.tensor([0, 1, 2, 3, CLASS_LIMIT_FLOOR - 1]))
    assert top.n_classes == CLASS_LIMIT_FLOOR


@pytest.mark.parametrize("labels", [np.array([0, 1, 2**64 - 1], np.uint64), np.array([0.0, 1.0, 1e300])])
def test_labels_are_checked_before_a_cast_can_wrap_them(tmp_path, labels):
    f = _npz(tmp_path / "f.npz", x=np.zeros((3, 4), np.float32), y=labels)
    with pytest.raises(DataError, match=r"labels outside the expected range \[0, 65,535\]: found 0\.\."):
        load_data(DataConfig(spec=f"npz:{f}"))


def test_data_inspect_of_a_label_of_1e8_is_fast_small_and_one_line(tmp_path):
    """`vaekit data inspect` of a label of 1e8: under 5 s (the command, imports aside), peak memory under 500 MB."""
    y = np.zeros(10, np.int64)
    y[3] = 10**8
    f = _npz(tmp_path / "f.npz", x=np.zeros((10, 4), np.float32), y=y)
    out = limited(f"""
        import contextlib, io
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = vaekit.cli.main(["data", "inspect", "npz:{f}"])
        result = [code, err.getvalue()]
    """, memory_mb=400)
    assert "crash" not in out, out.get("crash")
    code, err = out["result"]
    assert code == 2 and len(error_lines(err)) == 1 and "labels outside the expected range" in err
    assert out["seconds"] < 5 and out["peak_mb"] < 500, out


# --- compressed and declared sizes ------------------------------------------------------------------
def _gzip_bomb(header: bytes, zeros: int) -> bytes:
    """``header`` followed by ``zeros`` zero bytes, gzip-compressed in a stream (fast level: ~1/220)."""
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b"\0" * 2**20
    parts = [z.compress(header)] + [z.compress(block) for _ in range(zeros // len(block))]
    return b"".join(parts) + z.flush()


def test_an_idx_gzip_bomb_stops_at_the_size_its_header_declares(tmp_path):
    header = idx_bytes(np.zeros((2, 4, 3), np.uint8))
    bomb = tmp_path / "b-images-idx3-ubyte.gz"
    bomb.write_bytes(_gzip_bomb(header, 400 * 2**20))  # 400 MB of zeros in 1.8 MB
    assert bomb.stat().st_size < 2_000_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="IDX size mismatch: header says .2, 4, 3. .40 bytes., file has more"):
            read_idx(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # a few 1 MB chunks, not the 400 MB the stream holds


def test_an_idx_header_declaring_terabytes_is_refused_unread(tmp_path):
    head = bytes([0, 0, 8, 3]) + np.asarray([2**31, 2**16, 2**16], ">u4").tobytes()
    f = tmp_path / "t-images-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(head + b"\0" * 100))
    with pytest.raises(DataError, match="more than vaekit reads"):
        load_data(DataConfig(spec=f"idx:{f}"))


def test_an_npy_header_declaring_a_huge_array_is_refused_before_numpy_allocates_it(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 4), np.float32))
    f = tmp_path / "huge.npy"
    f.write_bytes(buf.getvalue().replace(b"(3, 4)", b"(10000000000, 4)"))  # 160 GB declared, 48 bytes held
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"huge.npy declares 160,000,000,1\d\d bytes but holds 1\d\d\b"):
            load_data(DataConfig(spec=f"npy:{f}"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


# --- images -----------------------------------------------------------------------------------------
def png_header(width: int, height: int) -> bytes:
    """A PNG with correct checksums that declares ``width x height`` pixels but holds almost none."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


def test_an_image_bomb_in_an_image_folder_is_refused_before_decoding(tmp_path):
    write_image(tmp_path / "a" / "ok.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "a" / "bomb.png").write_bytes(png_header(9000, 9000))  # 81 Mpx: under PIL's own limit
    with pytest.raises(DataError) as info:
        load_data(DataConfig(spec=f"images:{tmp_path}"))
    assert str(info.value).startswith(str(tmp_path / "a" / "bomb.png")) and "9000x9000" in str(info.value)


@pytest.mark.parametrize("size", [[4096, 4096], [1, MAX_IMAGE_SIZE_PIXELS + 1], [10**9, 10**9]])
def test_image_size_has_a_limit(size):
    with pytest.raises(ConfigError, match="data.image_size .* at most"):
        DataConfig(image_size=size)
