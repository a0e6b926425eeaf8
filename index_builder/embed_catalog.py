"""Embedding a whole catalog: parallel workers, a progress line with ETA, the resumable cache.

Songs found in the cache are not embedded again; every song embedded is cached the moment it is
done, so an interrupted build (crash, power cut, Ctrl-C) loses at most the songs in flight.
A file that cannot be read becomes an error message for the summary; the build goes on.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from device.audio_io import AudioError
from device.bundle import Song
from device.encoder_runtime import OnnxEncoder
from device.frontend import FrontEndConfig
from device.windows import WindowConfig
from index_builder.catalog import CatalogEntry, file_sha256
from index_builder.embed import CONTOUR_VERSION, NO_TEMPLATES, RENDER_SEED, TEMPLATE_VERSION, SongEmbedding, embed_song
from index_builder.embed_cache import EmbeddingCache
from models.melody import MelodyError

logger = logging.getLogger(__name__)

_worker: tuple[OnnxEncoder, FrontEndConfig, WindowConfig, bool] | None = None


def _init_worker(model: bytes, frontend: FrontEndConfig, windows: WindowConfig, templates: bool = True) -> None:
    global _worker
    _worker = (OnnxEncoder(model, threads=1), frontend, windows, templates)


def _embed_entry(entry: CatalogEntry) -> SongEmbedding | str:
    """Runs in a worker: an embedding, or the error message for this file."""
    encoder, frontend, windows, templates = _worker
    try:
        return embed_song(entry.path, encoder, frontend, windows, templates)
    except (AudioError, MelodyError, ValueError, OSError) as exc:
        return str(exc) if str(entry.path) in str(exc) else f"{entry.path}: {exc}"


class Progress:
    """``[#####.....] 900/10000 songs  14.2/s  ETA 10m41s`` on a terminal (or with HUM_PROGRESS=1)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()
        self.shown = sys.stderr.isatty() or bool(os.environ.get("HUM_PROGRESS"))
        self.last_shown = 0.0

    def update(self, done: int, embedded: int) -> None:
        now = time.monotonic()
        if not self.shown or (now - self.last_shown < 0.5 and done < self.total):
            return
        self.last_shown = now
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = embedded / elapsed
        left = self.total - done
        eta = f"ETA {int(left / rate) // 60}m{int(left / rate) % 60:02d}s" if rate > 0 and left else ""
        filled = int(30 * done / max(self.total, 1))
        line = f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} songs  {rate:.1f}/s  {eta}"
        print(f"{line:<80}", end="" if done < self.total else "\n", file=sys.stderr, flush=True)


@dataclass
class CatalogEmbedding:
    """Songs (catalog order, unreadable files left out), their stacked vectors, and what went wrong."""

    songs: list[Song] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    contours: list[np.ndarray] = field(default_factory=list)
    contour_estimated: list[bool] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    from_cache: int = 0

    def stacked(self) -> np.ndarray:
        return np.concatenate(self.vectors) if self.vectors else np.zeros((0, 0), np.float32)


def hash_entries(entries: list[CatalogEntry]) -> dict[str, str]:
    """sha256 of each readable file by relative path (unreadable ones are left for :func:`embed_catalog` to report)."""
    hashes = {}
    for entry in entries:
        try:
            hashes[entry.relative] = file_sha256(entry.path)
        except OSError:
            pass
    return hashes


def cache_settings(model: bytes, frontend: FrontEndConfig, windows: WindowConfig, templates: bool = True) -> dict:
    from device.bundle import sha256_bytes

    return {
        "model": sha256_bytes(model),
        "frontend": frontend.to_dict(),
        "windows": windows.to_dict(),
        "render_seed": RENDER_SEED,
        "contour_version": CONTOUR_VERSION,
        "template_version": TEMPLATE_VERSION if templates else NO_TEMPLATES,
    }


def embed_catalog(
    entries: list[CatalogEntry],
    model: bytes,
    workers: int,
    frontend: FrontEndConfig,
    windows: WindowConfig,
    cache: EmbeddingCache | None = None,
    first_vector: int = 0,
    hashes: dict[str, str] | None = None,
    templates: bool = True,
) -> CatalogEmbedding:
    """Embeds ``entries`` (cache first, then ``workers`` processes); song vector ranges start at ``first_vector``.

    ``hashes``: files' sha256 by relative path, where the caller has them already (see :func:`hash_entries`).
    ``templates``: melody files also get their tune sung (:func:`index_builder.embed.with_sung_template`).
    """
    hashes = dict(hashes or {})
    results: dict[str, SongEmbedding | str] = {}
    for entry in entries:
        if entry.relative not in hashes:
            try:
                hashes[entry.relative] = file_sha256(entry.path)
            except OSError as exc:
                results[entry.relative] = f"{entry.path}: cannot read ({exc.strerror or exc})"
                continue
        cached = cache.get(hashes[entry.relative]) if cache else None
        if cached is not None:
            results[entry.relative] = cached
    from_cache = sum(isinstance(r, SongEmbedding) for r in results.values())
    first_with_bytes: dict[str, str] = {}  # sha256 -> the first entry (relative path) with those bytes
    copies: list[tuple[CatalogEntry, str]] = []  # (an entry whose bytes an earlier one has, that one)
    todo = []
    for entry in (e for e in entries if e.relative not in results):
        original = first_with_bytes.setdefault(hashes[entry.relative], entry.relative)
        if original == entry.relative:
            todo.append(entry)
        else:
            copies.append((entry, original))
    if entries:
        logger.info("%d songs: %d from the cache, %d to embed with %d workers", len(entries), from_cache, len(todo), workers)
    progress = Progress(len(entries))
    pool = None
    if workers > 1 and len(todo) > 1:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(model, frontend, windows, templates))
        stream = pool.map(_embed_entry, todo, chunksize=2)
    else:
        _init_worker(model, frontend, windows, templates)
        stream = (_embed_entry(e) for e in todo)
    try:
        for embedded, (entry, result) in enumerate(zip(todo, stream), start=1):
            results[entry.relative] = result
            if isinstance(result, SongEmbedding) and cache is not None:
                cache.put(hashes[entry.relative], result)
            progress.update(len(results), embedded)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for entry, original in copies:  # embedded once: the same bytes give the same windows and contour
        if isinstance(results[original], str):
            results[entry.relative] = f"{entry.path}: the same bytes as {original}, which could not be used"
            continue
        results[entry.relative] = results[original]
        logger.warning(
            "%s has the same bytes as %s: embedded once, and both are in the bundle (a hum of it names both)", entry.relative, original
        )
    out = CatalogEmbedding(from_cache=from_cache)
    first = first_vector
    for entry in entries:
        result = results[entry.relative]
        if isinstance(result, str):
            out.errors.append(result)
            logger.warning("skipped: %s", result)
            continue
        out.songs.append(
            Song(entry.song_id, entry.title, entry.artist, hashes[entry.relative], round(result.duration_s, 2), first, len(result.vectors))
        )
        out.vectors.append(result.vectors)
        out.contours.append(result.contour)
        out.contour_estimated.append(result.contour_estimated)
        first += len(result.vectors)
    return out
