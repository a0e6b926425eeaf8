"""Finding the songs of a catalog folder and their titles.

Every audio (``.wav .flac .ogg .mp3``) and melody (``.mid .midi .abc``) file under the folder is a
song. An optional ``catalog.csv`` beside them (columns ``file,title,artist``; ``file`` relative to
the folder) names them; a song it does not name is titled by its file stem.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from device.audio_io import AUDIO_SUFFIXES
from models.melody import MELODY_SUFFIXES

logger = logging.getLogger(__name__)

CATALOG_CSV = "catalog.csv"


class CatalogError(ValueError):
    """A catalog folder that cannot be used at all."""


@dataclass(frozen=True)
class CatalogEntry:
    path: Path
    relative: str
    title: str
    artist: str

    @property
    def song_id(self) -> str:
        """Stable id: the file's path inside the catalog (stays the same across rebuilds)."""
        return self.relative


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_catalog_csv(path: Path) -> dict[str, tuple[str, str]]:
    """``file -> (title, artist)``; rows without a file name are reported and skipped."""
    names: dict[str, tuple[str, str]] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "file" not in reader.fieldnames:
            raise CatalogError(f"{path}: needs a header row with at least a 'file' column (file,title,artist)")
        for line, row in enumerate(reader, start=2):
            name = (row.get("file") or "").strip()
            if not name:
                logger.warning("%s line %d: no file name, row skipped", path, line)
                continue
            names[Path(name).as_posix()] = ((row.get("title") or "").strip(), (row.get("artist") or "").strip())
    return names


def scan_catalog(folder: Path) -> list[CatalogEntry]:
    """All songs under ``folder``, sorted by relative path."""
    if not folder.is_dir():
        raise CatalogError(f"{folder}: not a folder")
    csv_path = folder / CATALOG_CSV
    names = read_catalog_csv(csv_path) if csv_path.exists() else {}
    suffixes = set(AUDIO_SUFFIXES) | set(MELODY_SUFFIXES)
    entries = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes):
        relative = path.relative_to(folder).as_posix()
        title, artist = names.get(relative, ("", ""))
        entries.append(CatalogEntry(path, relative, title or path.stem, artist))
    unknown = set(names) - {e.relative for e in entries}
    for name in sorted(unknown):
        logger.warning("%s names %r, which is not a song file in the folder", csv_path, name)
    if not entries:
        raise CatalogError(f"{folder}: no song files ({', '.join(sorted(suffixes))})")
    return entries
