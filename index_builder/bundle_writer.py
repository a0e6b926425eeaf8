"""Writing a bundle: HNSW index, song table, encoder and manifest in one zip, atomically.

See :mod:`device.bundle` for the format; the device's reader is the specification and the tests
round-trip through it.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from device.bundle import FORMAT_VERSION, INDEX_MEMBER, MANIFEST, MODEL_MEMBER, MODEL_MEMBERS, SONGS_MEMBER, Song, sha256_bytes
from device.frontend import FrontEndConfig
from device.recognizer import Decision
from device.windows import WindowConfig
from index_builder import __version__


@dataclass(frozen=True)
class IndexConfig:
    """hnswlib parameters. ``ef`` is the search-time beam; it must be >= neighbours asked per window."""

    m: int = 16
    ef_construction: int = 200
    ef: int = 128


def build_index(vectors: np.ndarray, config: IndexConfig) -> bytes:
    """An hnswlib inner-product index of ``vectors`` (labels 0..N-1), serialised."""
    import hnswlib

    index = hnswlib.Index(space="ip", dim=vectors.shape[1])
    index.init_index(max_elements=len(vectors), ef_construction=config.ef_construction, M=config.m, random_seed=100)
    index.add_items(vectors, np.arange(len(vectors)), num_threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / INDEX_MEMBER
        index.save_index(str(path))
        return path.read_bytes()


def write_bundle(
    out_path: Path,
    model: bytes,
    songs: list[Song],
    vectors: np.ndarray,
    frontend: FrontEndConfig,
    windows: WindowConfig,
    index_config: IndexConfig = IndexConfig(),
    decision: Decision = Decision(),
    tflite_model: bytes | None = None,
) -> Path:
    """Writes ``out_path`` via a temporary file and an atomic rename.

    ``model`` (ONNX) made the song embeddings; ``tflite_model`` is the same encoder for the TFLite
    backends, carried so a speaker can run either runtime against this bundle.
    """
    members = {
        MODEL_MEMBER: model,
        INDEX_MEMBER: build_index(np.ascontiguousarray(vectors, dtype=np.float32), index_config),
        SONGS_MEMBER: json.dumps([s.to_dict() for s in songs], ensure_ascii=False).encode(),
    }
    if tflite_model is not None:
        members[MODEL_MEMBERS["tflite"]] = tflite_model
    manifest = {
        "format_version": FORMAT_VERSION,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "builder_version": __version__,
        "model_sha256": sha256_bytes(model),
        "models": {fmt: name for fmt, name in MODEL_MEMBERS.items() if name in members},
        "frontend": frontend.to_dict(),
        "windows": windows.to_dict(),
        "embedding_dim": int(vectors.shape[1]),
        "metric": "cosine",
        "counts": {"songs": len(songs), "vectors": int(len(vectors))},
        "search": {"ef": index_config.ef, "m": index_config.m, "ef_construction": index_config.ef_construction},
        "decision": decision.__dict__,
        "members": {name: sha256_bytes(data) for name, data in members.items()},
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out_path.name, suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes 0600; a bundle is meant to be copied around
    try:
        with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
            for name, data in members.items():
                archive.writestr(name, data)
        os.replace(tmp_name, out_path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return out_path
