"""Safe file I/O: atomic writes (temp file, flush, fsync, rename) and pickle-free tensor files."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Iterator

import torch
from safetensors import SafetensorError
from safetensors.torch import load as tensors_from_bytes
from safetensors.torch import save as tensor_bytes

from .errors import CheckpointError, ConfigError

#: Temporary files and folders of unfinished writes: ``.<name>.<pid>.<random>.tmp`` beside the target.
TMP_SUFFIX = ".tmp"
_TMP_NAME = re.compile(r"^\..*\.(\d+)\.[0-9a-f]{8}\.tmp$")
#: An unfinished write whose name carries no process id counts as abandoned after this many seconds.
STALE_SECONDS = 3600
#: Largest safetensors header read (the format's own limit is 100 MB).
_MAX_HEADER = 100_000_000


def temp_name(path: Path) -> Path:
    """A fresh temporary name beside ``path`` that names the writing process (see :func:`clean_temp_files`)."""
    return path.with_name(f".{path.name[:200]}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")


def _create_temp(path: Path) -> Path:
    """Create an empty temporary file beside ``path``; its mode follows the umask (as ``open`` does)."""
    while True:
        tmp = temp_name(path)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666))
            return tmp
        except FileExistsError:
            continue


def make_temp_dir(path: Path) -> Path:
    """Create a temporary folder beside ``path`` (mode from the umask), to be renamed onto ``path``."""
    while True:
        tmp = temp_name(path)
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was, so readers never
    see a half-written file. The file gets the permissions ``open`` would give it (0666 less the
    umask). An OSError while writing (a full disk) names ``path``, not the temporary file.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temp(path)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        if exc.errno and exc.filename in (None, str(tmp_path)):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename inside it) to disk, where the OS allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_writable(path: str | Path) -> None:
    """Raise an OSError naming ``path`` unless a file could be written there (before any work is done).

    Checks that ``path`` is not a folder and that its folder (or the nearest existing folder above,
    which will hold the folders still to create) is writable: not on a read-only file system, not
    denied by permissions. Nothing is created. A full disk cannot be foreseen; writes report it.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", str(path))
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        code = errno.EROFS if read_only else errno.EACCES
        raise OSError(code, f"cannot write here ({os.strerror(code)})", str(folder))


def check_file_name(name: str, key: str) -> str:
    """``name`` if it is one file or folder name (no ``/``, not ``.`` or ``..``); else a ConfigError."""
    bad = (not name or name in (".", "..") or any(c in name for c in "/\\\0")
           or len(os.fsencode(name)) > 200)
    if bad:
        raise ConfigError(f"{key} must be one file or folder name (no '/', not '..', at most 200 bytes), "
                          f"got {name!r}")
    return name


def clean_temp_files(folder: str | Path) -> list[Path]:
    """Remove what killed writers left in ``folder`` (not its subfolders): temporary files and folders
    whose process is gone (or, without a process id in the name, older than :data:`STALE_SECONDS`).

    Call it only while holding the folder's lock (see ``vaekit.run.lock_run``). Returns what was removed.
    """
    removed = []
    for entry in Path(folder).glob(".*" + TMP_SUFFIX):
        if not _abandoned(entry):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _abandoned(entry: Path) -> bool:
    match = _TMP_NAME.match(entry.name)
    if match is None:
        try:
            return time.time() - entry.lstat().st_mtime > STALE_SECONDS
        except OSError:
            return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    """UTF-8; undecodable bytes of file names (surrogate escapes) are written back as they were."""
    write_bytes(path, text.encode("utf-8", "surrogateescape"))


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable or not valid JSON ({exc})") from None


def check_fields(obj, fields: dict, where: str) -> dict:
    """``obj`` if it is a mapping whose keys in ``fields`` (where present) hold what ``fields`` says.

    Args:
        fields: key -> a type, a tuple of types (``bool`` is no ``int`` unless listed), or a predicate.
        where: the file named in the error.
    Raises:
        CheckpointError: a tampered or damaged record (not a mapping, or a value of the wrong type).
    """
    if not isinstance(obj, dict):
        raise CheckpointError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key, want in fields.items():
        if key in obj and not _fits(obj[key], want):
            raise CheckpointError(f"{where}: {key!r} has a wrong value ({str(obj[key])[:60]!r}); "
                                  "the file was modified or damaged")
    return obj


def _fits(value, want) -> bool:
    if isinstance(want, (type, tuple)):
        types = want if isinstance(want, tuple) else (want,)
        return isinstance(value, types) and (bool in types or not isinstance(value, bool))
    return bool(want(value))


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write tensors as safetensors, atomically."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    write_bytes(path, tensor_bytes(tensors, metadata=metadata))  # Python writes: a full disk is an OSError


def tensor_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes of a safetensors file, read from its header only (no tensor data).

    Format: an 8-byte little-endian header length, then a JSON header ``{name: {"dtype", "shape",
    "data_offsets"}, "__metadata__": {...}}``.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            if not 2 <= size <= min(_MAX_HEADER, path.stat().st_size - 8):
                raise ValueError(f"header length {size}")
            header = json.loads(fh.read(size))
        shapes = {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}
        if not all(isinstance(d, int) and d >= 0 for shape in shapes.values() for d in shape):
            raise ValueError("bad shapes")
        return shapes
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a valid safetensors file ({reason})") from None


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file; anything else (a pickle, a truncated file) is a CheckpointError.

    The bytes are read by Python (any path, also one that is not UTF-8) and decoded by safetensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return tensors_from_bytes(path.read_bytes())
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a valid safetensors file ({str(exc).splitlines()[0]})") from None
