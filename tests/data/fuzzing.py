"""Seeded fuzzing of the data readers, each case in a memory-limited worker process.

A *case* is (reader, index): the index seeds a ``random.Random`` that picks a seed file of the
reader's format and mutates it (byte flips, insertions, deletions, truncation, duplicated blocks,
"interesting" integers written over header fields) or is a hostile file of the format (huge
IDX/npy/PNG dimensions, a PNG chunk claiming gigabytes, an IDX gzip bomb, huge labels, long rows),
random bytes or random text. Case ``i`` is the same bytes on every machine and run.

:func:`run_cases` runs cases in ``python -m tests.data.fuzzing`` workers whose address space is
capped (``RLIMIT_AS``: what the imports took plus :data:`MEMORY_MB`) and each case under an alarm
(:data:`CASE_SECONDS`). A worker reports one JSON line per case: ``ok``, ``error`` (the documented
DataError, one line) or ``crash`` (anything else, MemoryError included, with the traceback). A worker
that dies or stops answering marks its current case ``hang`` (or ``killed``) and a new one resumes
after it.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import traceback
import zlib
from pathlib import Path

import numpy as np

#: Memory a case may allocate beyond what the worker's imports took.
MEMORY_MB = 512
#: Seconds a case may take.
CASE_SECONDS = 20
READERS = ("idx", "amat", "npz", "csv", "images")
INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 10**8, 2**24)


# --- seed files -------------------------------------------------------------------------------------
def _idx(a: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    return bytes([0, 0, codes[a.dtype], a.ndim]) + np.asarray(a.shape, ">u4").tobytes() + a.tobytes()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _png(a: np.ndarray, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt)
    return buf.getvalue()


def seeds(reader: str) -> list[bytes]:
    """Small valid files of the reader's format (the mutations start from them)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    if reader == "idx":
        return [_idx(images), _idx(np.array([0, 1, 2], np.uint8)), _idx(images.astype(">i4"))]
    if reader == "amat":
        bits = rng.integers(0, 2, (3, 9))
        return ["".join(" ".join(map(str, row)) + "\n" for row in bits).encode(), b"0 1\n1 0\n"]
    if reader == "npz":
        return [_npz(x=images, y=np.array([0, 1, 2])), _npz(x_train=images, y_train=np.array([1, 0, 1]),
                                                             x_test=images[:2], y_test=np.array([0, 1])),
                _npy(images.astype(np.float32) / 255), _npz(x=images, y=np.array(["a", "b", "a"]))]
    if reader == "csv":
        return [b"a,b,label\n1.5,2,x\n-3,4e2,y\n0,7,x\n", b"1;2;3\n4;5;6\n", b"f1\tf2\n0.5\t1\n2\t3\n"]
    gray = rng.integers(0, 256, (6, 5), dtype=np.uint8)
    return [_png(gray), _png(np.stack([gray] * 3, -1)), _png(gray, "BMP"), _png(gray, "JPEG")]


# --- mutations --------------------------------------------------------------------------------------
def mutate(data: bytes, rng: random.Random) -> bytes:
    """Up to 6 random edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.choice(("flip", "insert", "delete", "truncate", "repeat", "int"))
        at = rng.randrange(len(out) + 1)
        if op == "flip" and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif op == "insert":
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == "delete":
            del out[at:at + rng.randint(1, 8)]
        elif op == "truncate":
            del out[at:]
        elif op == "repeat" and out:
            start = rng.randrange(len(out))
            block = out[start:start + rng.randint(1, 64)]
            out[at:at] = block * rng.randint(2, 50)
        elif op == "int":
            out[at:at + 4] = struct.pack(rng.choice((">I", "<I")), rng.choice(INTERESTING))
    return bytes(out)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _huge_png(rng: random.Random) -> bytes:
    """A valid-looking PNG (correct CRCs) declaring huge dimensions: a decompression bomb's header."""
    w, h = rng.choice(((100_000, 100_000), (2**31 - 1, 1), (30_000, 30_000), (10, 10**7), (9000, 9000)))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 100_000)  # far less than the header promises
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _png_length_lie(rng: random.Random) -> bytes:
    """A small PNG whose image-data chunk claims up to 2 GB (the decoder is asked to read them)."""
    data = bytearray(seeds("images")[0])
    at = data.find(b"IDAT") - 4
    data[at:at + 4] = struct.pack(">I", rng.choice((2**31 - 1, 2**30, 0x7FFFFFF0)))
    return bytes(data)


def _idx_huge_dims(rng: random.Random) -> bytes:
    dims = [rng.choice((3, 2**16, 2**31, 2**32 - 1)) for _ in range(3)]
    return bytes([0, 0, 8, 3]) + np.asarray(dims, ">u4").tobytes() + bytes(rng.randrange(0, 4096))


@functools.lru_cache(maxsize=1)
def _idx_gzip_bomb_bytes() -> bytes:
    """An IDX header declaring 24 bytes, followed by 600 MB of zeros, gzip-compressed (2.7 MB)."""
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b"\0" * 2**20
    parts = [z.compress(_idx(np.zeros((2, 4, 3), np.uint8)))] + [z.compress(block) for _ in range(600)]
    return b"".join(parts) + z.flush()


def _idx_gzip_bomb(rng: random.Random) -> bytes:
    return _idx_gzip_bomb_bytes()


def _npz_huge_label(rng: random.Random) -> bytes:
    x = np.zeros((rng.choice((1, 3, 5)), 4), np.uint8)
    return _npz(x=x, y=np.full(len(x), rng.choice((10**8, 2**62, -5, 2**40)), np.int64))


def _npy_huge_header(rng: random.Random) -> bytes:
    x = np.zeros((3, 4), np.uint8)
    return _npy(x).replace(b"(3, 4)", f"({rng.choice((10**8, 10**9, 2**40, 10**15))}, 4)".encode(), 1)


def _csv_wide(rng: random.Random) -> bytes:
    row = ",".join(rng.choice(("1e308", "1e309", "-0", "nan", "", "9" * 400, "x")) for _ in range(rng.randint(1, 300)))
    return ((row + "\n") * rng.randint(1, 20)).encode()


def _amat_long(rng: random.Random) -> bytes:
    return b"0 1 " * rng.randint(1, 50_000) + b"\n" + b"1\n" * rng.randint(0, 3)


#: Format-aware hostile files per reader (the first cases of every suite run each of them).
HOSTILE = {"idx": (_idx_huge_dims, _idx_gzip_bomb), "npz": (_npz_huge_label, _npy_huge_header),
           "csv": (_csv_wide,), "images": (_huge_png, _png_length_lie), "amat": (_amat_long,)}
#: Alphabets of random text files (the characters the text formats are made of, and a few more).
ALPHABETS = {"amat": "01 \n\r\t.2", "csv": "0123456789.,;-e\n\"ab "}
#: Cases 0..FORCED-1 of every reader are its hostile files, in turn.
FORCED = 4


def case_bytes(reader: str, index: int) -> tuple[bytes, bool]:
    """The bytes of case ``index`` and whether they are to be gzip-compressed: a hostile file (the
    first :data:`FORCED` cases, then one case in six), random bytes or text (one in six), else a mutation."""
    rng = random.Random(f"{reader}-{index}")
    roll = rng.random()
    if index < FORCED or roll < 1 / 6:
        variants = HOSTILE[reader]
        data = variants[index % len(variants)](rng) if index < FORCED else rng.choice(variants)(rng)
    elif roll < 1 / 4:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    elif roll < 1 / 3 and reader in ALPHABETS:
        data = "".join(rng.choice(ALPHABETS[reader]) for _ in range(rng.randrange(80))).encode()
    else:
        data = mutate(rng.choice(seeds(reader)), rng)
    if data[:2] == b"\x1f\x8b":  # already gzip-compressed
        return data, False
    return data, reader in ("idx", "amat", "csv") and rng.random() < 0.3


# --- reading a case ---------------------------------------------------------------------------------
def read_case(reader: str, index: int, folder: Path) -> None:
    """Write case ``index`` under ``folder`` and read it with the reader (raises what the reader raises)."""
    from vaekit.data import DataConfig
    from vaekit.data.sources.amat import read_amat
    from vaekit.data.sources.arrays import load_arrays
    from vaekit.data.sources.idx import load_idx_pair
    from vaekit.data.sources.images import load_image_folder
    from vaekit.data.sources.tabular import read_csv

    data, compress = case_bytes(reader, index)
    suffix = ".gz" if compress or data[:2] == b"\x1f\x8b" else ""
    if compress:
        data = gzip.compress(data, mtime=0)
    rng = random.Random(f"{reader}-{index}-read")
    if reader == "idx":
        images = _write(folder / f"f-images-idx3-ubyte{suffix}", data)
        labels = folder / "f-labels-idx1-ubyte"
        _write(labels, _idx(np.array([0, 1, 2], np.uint8)))
        load_idx_pair(images, labels if rng.random() < 0.5 else None)
    elif reader == "amat":
        read_amat(_write(folder / f"x_train.amat{suffix}", data))
    elif reader == "npz":
        load_arrays(_write(folder / "a.npz", data), DataConfig(spec="npz:x"))
    elif reader == "csv":
        label = rng.choice((None, "label", "0", "b"))
        read_csv(_write(folder / f"t.csv{suffix}", data), DataConfig(spec="csv:x", label_column=label))
    else:
        good = seeds("images")
        _write(folder / "one" / "a.png", good[0])
        _write(folder / "two" / "b.png", good[1])
        _write(folder / rng.choice(("one", "two")) / f"c.{rng.choice(('png', 'jpg', 'bmp'))}", data)
        size = rng.choice((None, [4, 4], [7, 3]))
        load_image_folder(folder, DataConfig(spec="images:x", image_size=size))


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- the worker -------------------------------------------------------------------------------------
class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def _limit_memory(extra_mb: int) -> None:
    import resource

    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmPeak"))
    limit = peak * 1024 + extra_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def worker(cases: list[tuple[str, int]]) -> None:
    """Run the cases, printing one JSON line each (flushed, so the parent sees how far it got)."""
    import vaekit.data.sources  # noqa: F401  (imports first: the limit is on what a case adds)
    from vaekit.errors import DataError

    _limit_memory(MEMORY_MB)
    signal.signal(signal.SIGALRM, _alarm)
    for reader, index in cases:
        row = {"reader": reader, "case": index}
        with tempfile.TemporaryDirectory() as tmp:
            signal.alarm(CASE_SECONDS)
            try:
                read_case(reader, index, Path(tmp))
                row["outcome"] = "ok"
            except DataError as exc:
                one_line = "\n" not in str(exc) and bool(str(exc))
                row.update(outcome="error" if one_line else "crash", detail=str(exc)[:300])
            except _Hang:
                row["outcome"] = "hang"
            except BaseException as exc:  # noqa: BLE001  anything else is what the fuzzer looks for
                row.update(outcome="crash", detail=f"{type(exc).__name__}: {str(exc)[:200]}",
                           traceback=traceback.format_exc()[-1500:])
            finally:
                signal.alarm(0)
        print(json.dumps(row), flush=True)


def run_cases(cases: list[tuple[str, int]]) -> list[dict]:
    """Run ``(reader, index)`` cases in limited workers; one result row per case (see the module docstring)."""
    results: list[dict] = []
    todo = list(cases)
    root = Path(__file__).resolve().parents[2]
    while todo:
        cmd = [sys.executable, "-m", "tests.data.fuzzing", ",".join(f"{r}:{i}" for r, i in todo)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=60 + 2 * CASE_SECONDS * len(todo) ** 0.5,
                                  cwd=root, env={**os.environ, "OMP_NUM_THREADS": "1"})
            out, err, lost = proc.stdout, proc.stderr, ("killed" if proc.returncode else None)
        except subprocess.TimeoutExpired as exc:
            out, err, lost = exc.stdout or b"", exc.stderr or b"", "hang"
        rows = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
        results += rows
        todo = todo[len(rows):]
        if todo and lost:  # the worker died or stopped answering inside the next case
            reader, index = todo.pop(0)
            results.append({"reader": reader, "case": index, "outcome": lost,
                             "detail": err.decode(errors="replace")[-800:]})
        elif todo:
            raise RuntimeError(f"fuzz worker ended early: {err.decode(errors='replace')[-800:]}")
    return results


if __name__ == "__main__":
    worker([(item.split(":")[0], int(item.split(":")[1])) for item in sys.argv[1].split(",") if item])
