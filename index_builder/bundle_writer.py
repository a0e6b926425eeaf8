"""Writing a bundle: HNSW index, song table, encoder and manifest in one zip, atomically, optionally signed.

See :mod:`device.bundle` for the format; the device's reader is the specification and the tests
round-trip through it. ``hum-index add`` reuses :func:`write_archive` with an index that grew in
place, so a new bundle and an extended one are written by the same code.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from device import signing
from device.bundle import (
    FORMAT_VERSION,
    INDEX_MEMBER,
    MANIFEST,
    MELODY_MEMBER,
    MODEL_MEMBER,
    MODEL_MEMBERS,
    SONGS_MEMBER,
    Song,
    sha256_bytes,
)
from device.frontend import FrontEndConfig
from device.pitch import CONTOUR_LOWEST_MIDI, CONTOUR_STEPS_PER_SEMITONE, pack_contour
from device.recognizer import Decision
from device.signing import SIGNATURE_MEMBER
from device.windows import WindowConfig
from index_builder import __version__
from index_builder.embed import CONTOUR_VERSION, NO_TEMPLATES, TEMPLATE_VERSION


@dataclass(frozen=True)
class IndexConfig:
    """hnswlib parameters. ``ef`` is the search-time beam; it must be >= neighbours asked per window."""

    m: int = 16
    ef_construction: int = 200
    ef: int = 128


def new_index(dim: int, capacity: int, config: IndexConfig):
    import hnswlib

    index = hnswlib.Index(space="ip", dim=dim)
    index.init_index(max_elements=capacity, ef_construction=config.ef_construction, M=config.m, random_seed=100)
    return index


def serialise_index(index) -> bytes:
    """hnswlib writes only to a path: through a temporary file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / INDEX_MEMBER
        index.save_index(str(path))
        return path.read_bytes()


def build_index(vectors: np.ndarray, config: IndexConfig) -> bytes:
    """An hnswlib inner-product index of ``vectors`` (labels 0..N-1), serialised."""
    index = new_index(vectors.shape[1], len(vectors), config)
    index.add_items(np.ascontiguousarray(vectors, dtype=np.float32), np.arange(len(vectors)), num_threads=-1)  # all cores
    return serialise_index(index)


def contours_npz(contours: list[np.ndarray], estimated: list[bool] | None = None) -> bytes:
    """Every song's contour packed into one ``.npz`` (``values`` uint8, ``offsets`` int64, ``encoding``,
    ``estimated`` bool: tracked from audio rather than read from notes)."""
    import io

    packed = [pack_contour(c) for c in contours]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in packed])]).astype(np.int64)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        values=np.concatenate([*packed, np.zeros(0, np.uint8)]),
        offsets=offsets,
        estimated=np.asarray(estimated if estimated is not None else [False] * len(contours), bool),
        encoding=np.array([CONTOUR_LOWEST_MIDI, CONTOUR_STEPS_PER_SEMITONE], np.float64),
    )
    return buffer.getvalue()


def songs_json(songs: list[Song]) -> bytes:
    return json.dumps([s.to_dict() for s in songs], ensure_ascii=False).encode()


def write_bundle(
    out_path: Path,
    model: bytes,
    songs: list[Song],
    vectors: np.ndarray,
    frontend: FrontEndConfig,
    windows: WindowConfig,
    index_config: IndexConfig = IndexConfig(),
    decision: Decision | None = None,
    tflite_model: bytes | None = None,
    signing_key=None,
    contours: list[np.ndarray] | None = None,
    contour_estimated: list[bool] | None = None,
    templates: bool = True,
) -> Path:
    """Writes a new bundle to ``out_path`` via a temporary file and an atomic rename.

    ``model`` (ONNX) made the song embeddings; ``tflite_model`` is the same encoder for the TFLite
    backends, carried so a speaker can run either runtime against this bundle. ``signing_key``
    (Ed25519 private key) signs the manifest. ``contours``: each song's melody contour
    (:mod:`device.pitch`), for the re-ranking stage; ``contour_estimated``: which of them were
    tracked from audio (default: none). The manifest records the contour version that made them
    (:data:`index_builder.embed.CONTOUR_VERSION`), so ``hum-index add`` can tell when it would mix
    contours of two trackers. ``decision``: default, the calibration for the catalog's
    kind (:meth:`device.recognizer.Decision.for_catalog`).
    """
    decision = decision or Decision.for_catalog(contour_estimated if contours is not None else None)
    members = {
        MODEL_MEMBER: model,
        INDEX_MEMBER: build_index(vectors, index_config),
        SONGS_MEMBER: songs_json(songs),
    }
    if tflite_model is not None:
        members[MODEL_MEMBERS["tflite"]] = tflite_model
    if contours is not None:
        members[MELODY_MEMBER] = contours_npz(contours, contour_estimated)
    manifest = {
        "format_version": FORMAT_VERSION,
        "builder_version": __version__,
        "model_sha256": sha256_bytes(model),
        "models": {fmt: name for fmt, name in MODEL_MEMBERS.items() if name in members},
        "frontend": frontend.to_dict(),
        "windows": windows.to_dict(),
        "embedding_dim": int(vectors.shape[1]),
        "metric": "cosine",
        "search": {"ef": index_config.ef, "m": index_config.m, "ef_construction": index_config.ef_construction},
        "decision": asdict(decision),
    }
    if contours is not None:
        manifest["contour_versions"] = [CONTOUR_VERSION]
    # How its melody files were sung (index_builder.embed); hum-index add follows it.
    manifest["template_versions"] = [TEMPLATE_VERSION if templates else NO_TEMPLATES]
    return write_archive(out_path, manifest, members, songs, int(len(vectors)), signing_key)


def write_archive(out_path: Path, manifest: dict, members: dict[str, bytes], songs: list[Song], n_vectors: int, signing_key=None) -> Path:
    """Completes ``manifest`` (time, counts, member checksums, signer) and writes the zip atomically.

    The file appears under ``out_path`` only once it is complete (temporary file, fsync, rename):
    a crash mid-write leaves any previous file of that name untouched.
    """
    manifest = {
        **manifest,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "builder_version": __version__,
        "counts": {"songs": len(songs), "vectors": n_vectors},
        "members": {name: sha256_bytes(data) for name, data in members.items()},
    }
    manifest.pop("signed_by", None)
    if signing_key is not None:
        manifest["signed_by"] = signing.key_id(signing.public_key_bytes(signing_key.public_key()))
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out_path.name, suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes 0600; a bundle is meant to be copied around
    try:
        with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, manifest_bytes)
            if signing_key is not None:
                archive.writestr(SIGNATURE_MEMBER, signing.sign(signing_key, manifest_bytes))
            for name, data in members.items():
                archive.writestr(name, data)
        with open(tmp_name, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_name, out_path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return out_path
