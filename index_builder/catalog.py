"""Finding the songs of a catalog folder and their titles.

Every audio (``.wav .flac .ogg .opus .mp3 .aiff .aif``) and melody (``.mid .midi .kar .abc .musicxml .mxl``) file under the folder is a
song. An optional ``catalog.csv`` beside them (columns ``file,title,artist``; ``file`` relative to
the folder) names them; where it does not, an audio file's own tags do (ID3, Vorbis comments, RIFF
INFO: what a music library wrote), and failing those the file stem is the title. The file may be UTF-8
(with or without a byte-order mark), UTF-16 with a byte-order mark, or, failing UTF-8, Windows-1252:
what a spreadsheet program on Windows saves as "CSV" by default.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from device.audio_io import AUDIO_SUFFIXES, audio_suffixes, undecodable_suffixes
from device.ffmpeg_audio import FFMPEG_SUFFIXES, INSTALL_HINT, ffmpeg_tags
from device.folders import visible_files
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


def catalog_csv_text(path: Path) -> str:
    """The text of a catalog.csv in whichever encoding its maker used (see the module docstring).

    Why not UTF-8 alone: an operator who keeps titles in a spreadsheet on Windows saves Windows-1252
    by default, and "Café" would then stop the whole build. Bytes that are not UTF-8 are almost
    never valid UTF-8 by accident, so the fallback does not misread a UTF-8 file; it is logged,
    since a file in another code page (Cyrillic, Greek) would come out wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CatalogError(f"{path}: starts as UTF-16 but is not ({exc.reason} at byte {exc.start}); save it as UTF-8") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        logger.warning("%s is not UTF-8 (byte %d); read as Windows-1252: check accented titles, or save it as UTF-8", path, exc.start)
    return raw.decode("cp1252", errors="replace")  # five byte values are undefined there: shown as U+FFFD


def read_catalog_csv(path: Path) -> dict[str, tuple[str, str]]:
    """``file -> (title, artist)``; rows without a file name are reported and skipped."""
    names: dict[str, tuple[str, str]] = {}
    reader = csv.DictReader(io.StringIO(catalog_csv_text(path), newline=""))
    try:
        fields = reader.fieldnames
        if fields is None or "file" not in fields:
            raise CatalogError(f"{path}: needs a header row with at least a 'file' column (file,title,artist)")
        for line, row in enumerate(reader, start=2):
            name = (row.get("file") or "").strip()
            if not name:
                logger.warning("%s line %d: no file name, row skipped", path, line)
                continue
            names[Path(name).as_posix()] = ((row.get("title") or "").strip(), (row.get("artist") or "").strip())
    except csv.Error as exc:
        raise CatalogError(f"{path}: not a CSV file the builder can read ({exc})") from exc
    return names


def tagged_names(path: Path) -> tuple[str, str]:
    """(title, artist) from an audio file's tags, as libsndfile reads them; empty where it has none.

    Why: an operator who points the builder at a music folder has titles in the files' tags, and
    file names like "03 - Track 03" would otherwise be what the speaker says. A file that cannot be
    opened gives nothing here; the build reports it when it reads the audio."""
    if path.suffix.lower() in FFMPEG_SUFFIXES:
        return ffmpeg_tags(path)
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        return "", ""
    try:
        with sf.SoundFile(path) as handle:
            return (handle.title or "").strip(), (handle.artist or "").strip()
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError):  # ValueError: tags not in UTF-8
        return "", ""


def scan_catalog(folder: Path) -> list[CatalogEntry]:
    """All songs under ``folder``, sorted by relative path."""
    if not folder.is_dir():
        raise CatalogError(f"{folder}: not a folder")
    csv_path = folder / CATALOG_CSV
    names = read_catalog_csv(csv_path) if csv_path.exists() else {}
    suffixes = set(audio_suffixes()) | set(MELODY_SUFFIXES)
    files, hidden = visible_files(folder)
    if hidden:
        logger.info("%s: %d hidden file(s) left out (names starting with '.', e.g. macOS '._' twins)", folder, hidden)
    not_readable_here = undecodable_suffixes()
    undecodable = [p for p in files if p.suffix.lower() in not_readable_here]
    if undecodable:
        kinds = sorted({p.suffix.lower() for p in undecodable})
        logger.warning(
            "%s: %d %s file(s) left out (e.g. %s): install FFmpeg's decoders (" + INSTALL_HINT + ") "
            "or convert them to .flac or .mp3 first (ffmpeg -i in.m4a out.flac)",
            folder,
            len(undecodable),
            "/".join(kinds),
            undecodable[0].relative_to(folder).as_posix(),
        )
    entries = []
    for path in (p for p in files if p.suffix.lower() in suffixes):
        relative = path.relative_to(folder).as_posix()
        title, artist = names.get(relative, ("", ""))
        if not (title and artist):
            tag_title, tag_artist = tagged_names(path)
            title, artist = title or tag_title, artist or tag_artist
        entries.append(CatalogEntry(path, relative, title or path.stem, artist))
    unknown = set(names) - {e.relative for e in entries}
    for name in sorted(unknown):
        logger.warning("%s names %r, which is not a song file in the folder", csv_path, name)
    if not entries:
        raise CatalogError(f"{folder}: no song files ({', '.join(sorted(suffixes))})")
    return entries
