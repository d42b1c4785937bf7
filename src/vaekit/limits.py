"""Limits on sizes and counts, and the shared checks that enforce them.

Every number that can make vaekit allocate memory or loop (a count, a seed, an image size, a label)
is checked against a limit here before the work starts, so bad input ends in one clear error
instead of an out-of-memory kill, an overflow deep inside torch, or silently wrong output.

The rules (the README's "Limits" section lists them too):

* integers in configs and on the command line fit in 64 bits; seeds lie in ``[0, 2**63 - 1]``;
* floats in configs and on the command line are finite (no NaN, no inf);
* class labels are ``0..K-1`` with ``K <= max(N, 65,536)``, N the number of labelled examples, so
  per-class memory (label counts, one-hot rows, embeddings) stays proportional to the data;
* ``data.image_size`` is at most :data:`MAX_IMAGE_SIZE_PIXELS`; an image file is decoded only when
  it has at most :data:`MAX_DECODED_PIXELS` pixels (decompression bombs are refused unread);
* a gzip-compressed data file is decompressed as a stream and at most to the size its format
  declares (IDX) or :data:`MAX_DECOMPRESSED_BYTES`;
* a model has at most :data:`MAX_PARAMETERS` parameters (checked before any weight is allocated);
* pictures show at most :data:`MAX_ITEMS` items and a grid has at most :data:`MAX_GRID_PIXELS` pixels.
"""

from __future__ import annotations

import math

from .errors import ConfigError, DataError

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
MAX_SEED = INT64_MAX
#: Labels may run up to max(N, CLASS_LIMIT_FLOOR) - 1 for N labelled examples.
CLASS_LIMIT_FLOOR = 2**16
#: Pixels of ``data.image_size`` (H x W), e.g. 2048 x 2048.
MAX_IMAGE_SIZE_PIXELS = 2**22
#: Pixels of one decoded image file (e.g. 8192 x 8192); larger files are refused before decoding.
MAX_DECODED_PIXELS = 2**26
#: Bytes one compressed data file may decompress to (when its format declares no size).
MAX_DECOMPRESSED_BYTES = 2**32
#: Parameters of one model (4 GiB of float32 weights).
MAX_PARAMETERS = 2**30
#: Items in one picture (samples, reconstructions, ...).
MAX_ITEMS = 10_000
#: Pixels of one image grid.
MAX_GRID_PIXELS = 2**26


def check_int(value, name: str, lo: int | None = INT64_MIN, hi: int | None = INT64_MAX) -> int:
    """``value`` as an int within ``[lo, hi]`` (bounds None: open); otherwise a ConfigError naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    lo = INT64_MIN if lo is None else lo
    hi = INT64_MAX if hi is None else hi
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer in [{_fmt(lo)}, {_fmt(hi)}], got {_fmt(value)}")
    return value


def check_real(value, name: str, lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> float:
    """``value`` as a finite float within ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range
        value = math.inf
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value}")
    below = lo is not None and (value <= lo if lo_open else value < lo)
    if below or (hi is not None and value > hi):
        left = "(" if lo_open else "["
        raise ConfigError(f"{name} must lie in {left}{_fmt(lo, '-inf')}, {_fmt(hi, 'inf')}], got {value:g}")
    return value


def check_seed(value, name: str = "seed") -> int:
    """A seed: an integer in ``[0, 2**63 - 1]`` (what every random generator vaekit seeds accepts)."""
    return check_int(value, name, 0, MAX_SEED)


def class_limit(n: int) -> int:
    """How many classes ``n`` labelled examples may have: ``max(n, CLASS_LIMIT_FLOOR)``."""
    return max(n, CLASS_LIMIT_FLOOR)


def check_labels_range(lo: float, hi: float, n: int, where: str, n_classes: int | None = None) -> None:
    """Raise a one-line DataError unless labels ``lo..hi`` of ``n`` examples are valid class indices.

    Args:
        lo, hi: the smallest and largest label (computed without allocating per class).
        n_classes: labels must lie in ``[0, n_classes)`` when given; otherwise in ``[0, class_limit(n))``.
    """
    limit = class_limit(n) if n_classes is None else n_classes
    if lo < 0 or hi >= limit:
        rule = "" if n_classes is not None else (
            f" (class labels are 0..K-1 with K at most max(examples, {CLASS_LIMIT_FLOOR:,}); "
            f"this data has {n:,} examples)")
        raise DataError(f"{where}: labels outside the expected range [0, {_fmt(limit - 1)}]: "
                        f"found {_fmt(lo)}..{_fmt(hi)}{rule}")


def _fmt(value, default: str = "") -> str:
    """A bound or value for a message: ``1,000,000``, ``1.27e+21``, ``0.5``."""
    if value is None:
        return default
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < 10**21 else f"{value:.3g}"
    return f"{value:g}"
