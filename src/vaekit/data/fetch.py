"""Download public datasets from their canonical addresses, verified by SHA-256.

``fetch("mnist", "data/mnist")`` downloads each file of the dataset into the folder unless a copy
with the right SHA-256 is already there. A download streams into ``NAME.part`` beside the target;
an interrupted transfer (dropped connection, timeout) is resumed with an HTTP ``Range`` request, on
the spot (up to ``retries`` times) or on the next call, since the ``.part`` file is kept. Only a file
whose SHA-256 matches is renamed onto its final name (atomically), so a target file is either
absent or complete and verified. Unreachable hosts, HTTP errors and checksum mismatches are one-line
:class:`~vaekit.errors.DataError` messages; mirrors are tried in order.

Checksums: the published SHA-256 lists of TensorFlow Datasets (``url_checksums/mnist.txt``,
``fashion_mnist.txt``, ``kmnist.txt``, ``binarized_mnist.txt``).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_USER_AGENT = "vaekit-fetch/1 (+https://github.com/vaekit)"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name on the server and on disk, SHA-256 and size in bytes."""

    name: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class Remote:
    """A downloadable dataset: base URLs tried in order, its files, and the data spec that reads them."""

    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    spec: str
    about: str = ""


def _files(sizes_and_sums: dict[str, tuple[int, str]]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(name, sha, size) for name, (size, sha) in sizes_and_sums.items())


#: name -> Remote. ``spec`` is formatted with ``dir`` = the download folder.
DATASETS: dict[str, Remote] = {
    "mnist": Remote(
        mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
        files=_files({
            "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        }),
        spec="mnist:{dir}", about="MNIST digits (LeCun et al. 1998), 60,000 + 10,000 28x28 grayscale"),
    "fashion-mnist": Remote(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files=_files({
            "train-images-idx3-ubyte.gz": (26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            "train-labels-idx1-ubyte.gz": (29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            "t10k-images-idx3-ubyte.gz": (4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
            "t10k-labels-idx1-ubyte.gz": (5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        }),
        spec="mnist:{dir}", about="Fashion-MNIST (Xiao et al. 2017), 60,000 + 10,000 28x28 grayscale"),
    "kmnist": Remote(
        mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        files=_files({
            "train-images-idx3-ubyte.gz": (18165135, "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
            "train-labels-idx1-ubyte.gz": (29497, "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
            "t10k-images-idx3-ubyte.gz": (3041136, "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
            "t10k-labels-idx1-ubyte.gz": (5120, "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
        }),
        spec="mnist:{dir}", about="Kuzushiji-MNIST (Clanuwat et al. 2018), 60,000 + 10,000 28x28 grayscale"),
    "binarized-mnist": Remote(
        mirrors=("http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",),
        files=_files({
            "binarized_mnist_train.amat": (78400000, "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d"),
            "binarized_mnist_valid.amat": (15680000, "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2"),
            "binarized_mnist_test.amat": (15680000, "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c"),
        }),
        spec="amat:{dir}", about="statically binarized MNIST (Larochelle & Murray 2011), 50,000 + 10,000 + 10,000"),
}


class _Interrupted(Exception):
    """The transfer stopped early; the ``.part`` file holds what arrived (resumable)."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _open(url: str, start: int, timeout: float):
    headers = {"User-Agent": _USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


#: Errors of a connection that broke after it was made: the transfer is retried (resumed).
_BROKEN = (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError, TimeoutError)


def _respond(url: str, part: Path, timeout: float):
    """Open ``url`` for the bytes ``part`` lacks; returns (response, whether it resumes ``part``)."""
    start = part.stat().st_size if part.exists() else 0
    try:
        resp = _open(url, start, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not start:  # 416: the partial file is no prefix of the file: start over
            raise
        part.unlink()
        return _open(url, 0, timeout), False
    resumed = start > 0 and resp.status == 206
    if resumed and not resp.headers.get("Content-Range", "").startswith(f"bytes {start}-"):
        resp.close()
        part.unlink()
        raise _Interrupted("the server resumed at another offset; starting over")
    return resp, resumed


def _stream(url: str, part: Path, timeout: float, size: int | None = None) -> None:
    """Append the rest of ``url`` to ``part`` (from its current size when the server honours Range).

    Args:
        size: the published file size: a server announcing or sending more is refused (DataError, the
            partial file deleted) after reading at most one chunk beyond it.
    """
    try:
        resp, resumed = _respond(url, part, timeout)
    except _BROKEN as exc:
        raise _Interrupted(f"connection broken ({type(exc).__name__})") from None
    start = part.stat().st_size if resumed else 0
    room = None if size is None else size - start  # bytes still to come
    with resp, open(part, "ab" if resumed else "wb") as fh:
        expected = _content_length(resp)
        too_long = room is not None and expected is not None and expected > room
        received = 0 if too_long else _copy(resp, fh, None if room is None else room + 1)
        fh.flush()
        os.fsync(fh.fileno())
    if too_long or (room is not None and received > room):
        part.unlink()
        raise DataError(f"{url}: the server sends more than the published {size:,} bytes "
                        f"({start + max(received, expected or 0):,} or more); not the expected file")
    if expected is not None and received < expected:
        raise _Interrupted(f"connection closed after {received} of {expected} bytes")


def _copy(resp, fh, limit: int | None) -> int:
    """Copy the response body into ``fh`` until its end or ``limit`` bytes; returns the bytes copied."""
    received = 0
    while limit is None or received < limit:
        try:
            chunk = resp.read(_CHUNK if limit is None else min(_CHUNK, limit - received))
        except (*_BROKEN, OSError) as exc:
            raise _Interrupted(f"connection dropped after {received} bytes ({type(exc).__name__})") from None
        if not chunk:
            break
        fh.write(chunk)
        received += len(chunk)
    return received


def _content_length(resp) -> int | None:
    try:
        return int(resp.headers.get("Content-Length"))
    except (TypeError, ValueError):
        return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot reach the server ({exc.reason}); check the network connection"
    return f"{type(exc).__name__}: {exc}"


def download(url: str, dest: Path, sha256: str, size: int | None = None, retries: int = 3,
             timeout: float = 30.0) -> None:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming, verifying and renaming atomically.

    Raises:
        DataError: unreachable host, HTTP error, repeated interruption, or a SHA-256 mismatch (the
            partial file is then deleted; after an interruption it is kept for resuming).
    """
    part = dest.with_name(dest.name + ".part")
    if size is not None and part.is_file() and part.stat().st_size > size:
        part.unlink()  # longer than the file can be: not a prefix of it
    for attempt in range(1, retries + 1):
        if size is not None and part.is_file() and part.stat().st_size == size:
            break  # complete from an earlier run: verify it
        try:
            _stream(url, part, timeout, size)
            break
        except _Interrupted as exc:
            log.info("%s: %s (attempt %d of %d), resuming", url, exc, attempt, retries)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise DataError(f"{url}: {_reason(exc)}") from None
    else:
        raise DataError(f"{url}: download interrupted {retries} times; {part} is kept, run again to resume")
    got = sha256_of(part)
    if got != sha256:
        part.unlink()
        raise DataError(f"{url}: SHA-256 mismatch (got {got}, expected {sha256}); the download was deleted")
    os.replace(part, dest)


def fetch_file(remote: Remote, file: RemoteFile, folder: Path, retries: int = 3, timeout: float = 30.0) -> bool:
    """Make ``folder/file.name`` a verified copy, trying each mirror; returns False when already there."""
    dest = folder / file.name
    if dest.is_file() and sha256_of(dest) == file.sha256:
        return False
    errors = []
    for base in remote.mirrors:
        try:
            download(base.rstrip("/") + "/" + file.name, dest, file.sha256, file.size, retries, timeout)
            return True
        except DataError as exc:
            log.info("%s", exc)
            errors.append(str(exc))
    if len(errors) == 1:
        raise DataError(errors[0])
    raise DataError(f"{file.name}: all {len(errors)} mirrors failed; last: {errors[-1]}")


def fetch(name: str, to: str | Path, registry: dict[str, Remote] | None = None, mirrors: tuple[str, ...] | None = None,
          retries: int = 3, timeout: float = 30.0) -> tuple[str, list[tuple[Path, bool]]]:
    """Download dataset ``name`` into folder ``to``.

    Args:
        registry: datasets to choose from (default :data:`DATASETS`).
        mirrors: base URLs to use instead of the registered ones (a local mirror, tests).

    Returns:
        The data spec that reads the folder (e.g. ``mnist:data/mnist``) and, per file, its path
        and whether it was downloaded now (False: a verified copy was already there).
    """
    registry = DATASETS if registry is None else registry
    if name not in registry:
        raise DataError(f"unknown dataset {name!r} to fetch (choose from: {', '.join(sorted(registry))})")
    remote = registry[name]
    if mirrors:
        remote = Remote(tuple(mirrors), remote.files, remote.spec, remote.about)
    bad = [url for url in remote.mirrors if not url.startswith(("http://", "https://"))]
    if bad:
        raise DataError(f"mirror {bad[0]!r} is not an http:// or https:// URL")
    folder = Path(to).expanduser()
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from None
    try:
        done = [(folder / f.name, fetch_file(remote, f, folder, retries, timeout)) for f in remote.files]
    except DataError:
        if created and not any(folder.iterdir()):
            folder.rmdir()  # leave no trace of a fetch that got nothing
        raise
    return remote.spec.format(dir=folder), done
