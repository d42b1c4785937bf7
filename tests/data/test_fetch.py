"""``vaekit.data.fetch`` end to end against a local HTTP server on 127.0.0.1.

The server serves files the tests generate and can misbehave per file: drop the connection
mid-body (always or once), ignore Range requests, or be absent.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading

import pytest

from vaekit.cli import main
from vaekit.data import DataError
from vaekit.data import fetch as fetch_module
from vaekit.data.fetch import Remote, RemoteFile, fetch

from ..conftest import error_lines

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        state = self.server.state
        name = self.path.rsplit("/", 1)[-1]
        mode = state["mode"].get(name, "good")
        state["requests"].append((name, self.headers.get("Range")))
        if name not in state["files"]:
            return self.send_error(404)
        body, start = state["files"][name], 0
        if self.headers.get("Range") and mode != "no_range":
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                return self.send_error(416)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        if mode != "no_length":  # without it the body ends when the server hangs up (HTTP/1.0)
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if mode == "drop" or (mode == "drop_once" and len(state["requests"]) == 1):
            self.wfile.write(payload[: len(payload) // 3])  # then hang up mid-body
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A threaded HTTP server on 127.0.0.1; ``server.state`` holds files, modes and the request log."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = {"files": {"a.bin": BODY}, "mode": {}, "requests": []}
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/data/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _registry(sha=SHA, mirrors=("http://unused.invalid/",)):
    return {"tiny": Remote(mirrors=mirrors, files=(RemoteFile("a.bin", sha, len(BODY)),), spec="npz:{dir}")}


def _fetch(server, folder, **kw):
    return fetch("tiny", folder, registry=kw.pop("registry", _registry()), mirrors=(server.url,), timeout=5, **kw)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else None


def test_good_file_is_downloaded_verified_and_kept(server, tmp_path):
    spec, files = _fetch(server, tmp_path / "out")
    assert spec == f"npz:{tmp_path / 'out'}" and files == [(tmp_path / "out" / "a.bin", True)]
    assert (tmp_path / "out" / "a.bin").read_bytes() == BODY and _leftovers(tmp_path / "out") == ["a.bin"]
    _, again = _fetch(server, tmp_path / "out")
    assert again == [(tmp_path / "out" / "a.bin", False)] and len(server.state["requests"]) == 1


def test_wrong_checksum_is_one_line_and_leaves_nothing(server, tmp_path):
    with pytest.raises(DataError) as info:
        _fetch(server, tmp_path / "out", registry=_registry(sha="0" * 64))
    message = str(info.value)
    assert "a.bin: SHA-256 mismatch" in message and SHA in message and "\n" not in message
    assert _leftovers(tmp_path / "out") is None  # the folder it created is gone too


def test_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
    server.state["mode"]["a.bin"] = "drop_once"
    _fetch(server, tmp_path)
    assert (tmp_path / "a.bin").read_bytes() == BODY
    assert server.state["requests"] == [("a.bin", None), ("a.bin", f"bytes={len(BODY) // 3}-")]


def test_repeated_drops_keep_the_partial_file_for_the_next_run(server, tmp_path):
    server.state["mode"]["a.bin"] = "drop"
    with pytest.raises(DataError, match="interrupted 2 times; .*a.bin.part is kept, run again to resume"):
        _fetch(server, tmp_path, retries=2)
    part = tmp_path / "a.bin.part"
    assert not (tmp_path / "a.bin").exists() and 0 < part.stat().st_size < len(BODY)
    assert BODY.startswith(part.read_bytes())
    server.state["mode"]["a.bin"] = "good"
    server.state["requests"].clear()
    _fetch(server, tmp_path)
    assert server.state["requests"] == [("a.bin", f"bytes={part_size(BODY, 2)}-")]
    assert (tmp_path / "a.bin").read_bytes() == BODY and _leftovers(tmp_path) == ["a.bin"]


def part_size(body: bytes, drops: int) -> int:
    """Bytes kept after ``drops`` resumed transfers that each deliver a third of what is left."""
    size = 0
    for _ in range(drops):
        size += (len(body) - size) // 3
    return size


def test_server_ignoring_range_and_a_foreign_partial_start_over(server, tmp_path):
    (tmp_path / "a.bin.part").write_bytes(BODY[:1000])
    server.state["mode"]["a.bin"] = "no_range"
    _fetch(server, tmp_path)
    assert (tmp_path / "a.bin").read_bytes() == BODY
    (tmp_path / "a.bin").unlink()
    (tmp_path / "a.bin.part").write_bytes(os.urandom(len(BODY) + 10))  # longer than the file: HTTP 416
    server.state["mode"]["a.bin"] = "good"
    _fetch(server, tmp_path)
    assert (tmp_path / "a.bin").read_bytes() == BODY


def test_offline_and_http_errors_are_one_line(server, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/"
    with pytest.raises(DataError) as info:
        fetch("tiny", tmp_path / "out", registry=_registry(), mirrors=(closed,), timeout=5)
    assert "cannot reach the server" in str(info.value) and "\n" not in str(info.value)
    server.state["files"].clear()
    with pytest.raises(DataError, match="a.bin: HTTP 404"):
        _fetch(server, tmp_path / "out")
    assert _leftovers(tmp_path / "out") is None


def test_mirrors_are_tried_in_order(server, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/"
    fetch("tiny", tmp_path, registry=_registry(mirrors=(closed, server.url)), timeout=5)
    assert (tmp_path / "a.bin").read_bytes() == BODY
    with pytest.raises(DataError, match="unknown dataset 'nope' to fetch"):
        fetch("nope", tmp_path)
    with pytest.raises(DataError, match="mirror 'data/' is not an http"):
        fetch("tiny", tmp_path / "new", registry=_registry(), mirrors=("data/",))
    assert not (tmp_path / "new").exists()


def test_cli_fetch_prints_the_spec_and_fails_with_one_line(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(fetch_module.DATASETS, "tiny", _registry()["tiny"])
    assert main(["data", "fetch", "tiny", "--to", str(tmp_path), "--mirror", server.url]) == 0
    out = capsys.readouterr().out
    assert f"downloaded  {tmp_path / 'a.bin'}" in out and f"--data npz:{tmp_path}" in out
    monkeypatch.setitem(fetch_module.DATASETS, "tiny", _registry(sha="1" * 64)["tiny"])
    (tmp_path / "a.bin").unlink()
    assert main(["data", "fetch", "tiny", "--to", str(tmp_path), "--mirror", server.url]) == 2
    lines = error_lines(capsys.readouterr().err)  # the failed mirror is also logged
    assert len(lines) == 1 and lines[0].startswith("vaekit: error: ") and "SHA-256 mismatch" in lines[0]


def test_registry_lists_the_four_datasets_with_sha256():
    assert sorted(fetch_module.DATASETS) == ["binarized-mnist", "fashion-mnist", "kmnist", "mnist"]
    for remote in fetch_module.DATASETS.values():
        assert remote.mirrors and all(len(f.sha256) == 64 and f.size for f in remote.files)


@pytest.mark.parametrize("mode", ["good", "no_length"])
def test_a_mirror_sending_more_than_the_published_size_is_cut_off(server, tmp_path, monkeypatch, mode):
    """A bad mirror serving a bigger file: reading stops just past the published size, nothing is kept."""
    server.state["files"]["a.bin"] = BODY * 10  # 3 MB where 300 kB are published
    server.state["mode"]["a.bin"] = mode
    read = []
    real_open = fetch_module._open

    def counting_open(url, start, timeout):
        resp = real_open(url, start, timeout)
        original = resp.read
        resp.read = lambda n=-1: read.append(len(chunk := original(n))) or chunk
        return resp

    monkeypatch.setattr(fetch_module, "_open", counting_open)
    monkeypatch.setattr(fetch_module, "_CHUNK", 1 << 16)
    with pytest.raises(DataError, match="sends more than the published 300,000 bytes"):
        _fetch(server, tmp_path / "d")
    assert sum(read) <= len(BODY) + 1  # at most one byte past the size (none when the length is announced)
    assert _leftovers(tmp_path / "d") is None
