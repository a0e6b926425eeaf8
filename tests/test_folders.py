"""Folders as people make them: hidden entries left out, linked folders followed once."""

from __future__ import annotations

import os

import pytest

from device.folders import visible_files


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_linked_folders_are_followed_once_and_loops_end(tmp_path):
    disk = tmp_path / "disk" / "album"
    disk.mkdir(parents=True)
    (disk / "song.flac").write_bytes(b"x")
    library = tmp_path / "library"
    library.mkdir()
    (library / "own.mid").write_bytes(b"x")
    (library / "album").symlink_to(disk, target_is_directory=True)
    (library / "same album again").symlink_to(disk, target_is_directory=True)
    (disk / "loop").symlink_to(tmp_path / "disk", target_is_directory=True)  # a link back up its own tree
    (library / ".hidden").mkdir()
    (library / ".hidden" / "x.wav").write_bytes(b"x")

    files, hidden = visible_files(library)
    names = [p.relative_to(library).as_posix() for p in files]
    assert names == ["album/song.flac", "own.mid"]
    assert hidden == 1
