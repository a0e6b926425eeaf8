"""The files a folder holds, as the person who made it sees them.

Both command-line tools take folders (a catalog to index, a session's recordings to query). A
folder copied from a Mac carries an AppleDouble twin "._song.mp3" of every file (resource forks,
not audio) and a ".DS_Store"; one that was a git checkout or a synced folder has ".git", ".Trash"
or ".sync" folders. Such hidden entries (names starting with ".", as `ls` and file managers
treat them) are left out, whole hidden folders included, rather than read and reported as broken.

Linked folders are followed (a music library is often a folder of links to the disks that hold
the albums; session 31: before, a catalog of links indexed nothing of them), each real folder
once, so a link back up the tree does not walk forever.
"""

from __future__ import annotations

import os
from pathlib import Path


def is_hidden(name: str) -> bool:
    """A file or folder name that file managers hide (and macOS's "._" resource-fork twins)."""
    return name.startswith(".")


def first_visit(folder: Path, walked: set[str]) -> bool:
    """Whether the real folder behind ``folder`` (links resolved) is not in ``walked``; adds it."""
    real = os.path.realpath(folder)
    if real in walked:
        return False
    walked.add(real)
    return True


def visible_files(folder: Path) -> tuple[list[Path], int]:
    """(every file under ``folder`` that is not hidden nor inside a hidden folder, sorted; how many
    hidden files were left out). Linked folders are followed, each real folder once."""
    files: list[Path] = []
    hidden = 0
    walked = {os.path.realpath(folder)}
    for root, dirs, names in os.walk(folder, followlinks=True):
        for name in [d for d in dirs if is_hidden(d)]:
            hidden += sum(len(inner) for _, _, inner in os.walk(Path(root) / name))
        dirs[:] = [d for d in sorted(dirs) if not is_hidden(d) and first_visit(Path(root) / d, walked)]
        for name in names:
            if is_hidden(name):
                hidden += 1
            elif (Path(root) / name).is_file():
                files.append(Path(root) / name)
    return sorted(files), hidden
