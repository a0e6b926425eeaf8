"""A resumable cache of song embeddings: a crash at song 9,000 of 10,000 resumes at 9,000.

Each finished song is written at once as one small ``.npz`` (plain arrays, no pickle), named by a
key over everything that decides its vectors: the file's bytes (sha256), the encoder's bytes, the
front-end and window parameters and the melody render seed. A changed file, model or parameter
therefore misses the cache instead of reusing stale vectors, and the same song in two catalogs
(or in ``build`` then ``add``) is embedded once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from index_builder.embed import SongEmbedding

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/hum-index``, else ``~/.cache/hum-index``, else (no home) the temp folder's."""
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "hum-index"
    try:
        return Path.home() / ".cache" / "hum-index"
    except (RuntimeError, KeyError):
        import tempfile

        return Path(tempfile.gettempdir()) / "hum-index-cache"


class EmbeddingCache:
    """Song embeddings on disk, keyed by file content and by everything that shapes the vectors."""

    def __init__(self, folder: Path, settings: dict) -> None:
        """``settings``: JSON-able description of the model and parameters (e.g. model sha256, front end)."""
        self.folder = folder
        self.disabled = False
        self.settings_key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()

    def _path(self, file_sha256: str) -> Path:
        key = hashlib.sha256(f"{self.settings_key}:{file_sha256}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}.npz"

    def get(self, file_sha256: str) -> SongEmbedding | None:
        path = self._path(file_sha256)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return SongEmbedding(
                    data["vectors"].astype(np.float32),
                    float(data["duration_s"]),
                    data["contour"].astype(np.float32),
                    bool(data["contour_estimated"]),
                )
        except (OSError, ValueError, KeyError) as exc:  # a torn or foreign file: embed again
            logger.warning("ignoring unreadable cache entry %s (%s)", path, exc)
            return None

    def put(self, file_sha256: str, embedding: SongEmbedding) -> None:
        """Writes atomically (temporary file + rename), so a crash never leaves a half entry behind."""
        if self.disabled:
            return
        path = self._path(file_sha256)
        # Not named *.npz: only whole entries carry the entries' suffix (a build killed mid-write
        # leaves a *.partial file that no lookup or count of entries mistakes for one).
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as file:  # a file object: np.savez would append ".npz" to a name
                np.savez(
                    file,
                    vectors=embedding.vectors.astype(np.float32),
                    duration_s=np.float64(embedding.duration_s),
                    contour=embedding.contour.astype(np.float32),
                    contour_estimated=np.bool_(embedding.contour_estimated),
                )
            os.replace(tmp, path)
        except OSError as exc:  # a read-only or full disk must not stop the build: go on without the cache
            logger.warning("embedding cache %s unusable (%s); continuing without it (a rerun will embed again)", self.folder, exc)
            self.disabled = True
