"""``vaekit.io``: atomic writes that respect the umask and name their target, the writability check,
and the clean-up of what killed writers leave behind."""

from __future__ import annotations

import errno
import os
import stat
import time

import pytest

from vaekit.errors import ConfigError
from vaekit.io import check_file_name, check_writable, clean_temp_files, temp_name, write_bytes, write_text

from .conftest import fill_disk


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_get_the_mode_open_would_give(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "a" / "report.html", "<html>")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a" / "report.html") == expected
    assert (tmp_path / "a" / "report.html").read_text() == "<html>"


def test_a_full_disk_names_the_target_and_leaves_nothing_behind(tmp_path, mount_tmpfs):
    disk = mount_tmpfs(tmp_path / "disk", kib=256)
    write_bytes(disk / "weights.bin", b"old")
    with pytest.raises(OSError) as info:
        write_bytes(disk / "weights.bin", os.urandom(512 * 1024))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(disk / "weights.bin")
    assert sorted(p.name for p in disk.iterdir()) == ["weights.bin"]
    assert (disk / "weights.bin").read_bytes() == b"old"


def test_check_writable_refuses_folders_files_as_folders_and_read_only_mounts(tmp_path, mount_tmpfs):
    check_writable(tmp_path / "new" / "deeper" / "x.png")  # folders still to create: fine
    with pytest.raises(IsADirectoryError, match="is a folder"):
        check_writable(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        check_writable(tmp_path / "file" / "x.png")
    ro = mount_tmpfs(tmp_path / "ro", kib=64, read_only=True)
    with pytest.raises(OSError) as info:
        check_writable(ro / "run" / "latent" / "x.png")
    assert info.value.errno == errno.EROFS and info.value.filename == str(ro)
    assert not any(tmp_path.glob("new"))  # the check created nothing


def test_full_disk_check_creates_nothing(tmp_path, mount_tmpfs):
    disk = mount_tmpfs(tmp_path / "disk", kib=64)
    fill_disk(disk)
    check_writable(disk / "x")  # a full disk is not foreseeable: writes report it
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_leftovers_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    dead = tmp_path / f".model.safetensors.{dead_pid}.0123abcd.tmp"
    live = temp_name(tmp_path / "report.html")  # this process is alive
    old = tmp_path / ".run.json.abc123.tmp"  # an older vaekit's name: removed when stale
    fresh = tmp_path / ".config.yaml.xyz789.tmp"
    folder = tmp_path / f".step-000000010-1a2b3c4d.{dead_pid}.0badf00d.tmp"
    for path in (dead, live, old, fresh):
        path.write_bytes(b"partial")
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    removed = clean_temp_files(tmp_path)
    assert sorted(removed) == sorted([dead, old, folder])
    assert live.exists() and fresh.exists() and not folder.exists()


@pytest.mark.parametrize("name", ["a/../../b", "..", ".", "", "x/y", "a\\b", "a\0b", "/abs", "n" * 201])
def test_a_name_is_one_path_component(name):
    with pytest.raises(ConfigError, match="one file or folder name"):
        check_file_name(name, "name")
