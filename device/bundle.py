"""Reading and checking a catalog bundle (``*.humbundle``): one zip file, verified before use.

Members (flat names, nothing else is accepted):
- ``manifest.json``: format version, creation time, builder version, front-end and window
  parameters, embedding size and metric, counts, search settings, and the sha256 of every other
  member.
- ``encoder.onnx``: the encoder the song embeddings were made with (int8, onnxruntime).
- ``encoder.tflite`` (optional): the same encoder as an int8 TFLite model, for the TFLite backends.
- ``index.hnsw``: hnswlib index of song-window embeddings (inner product on unit vectors).
- ``songs.json``: the song table; song ``i`` owns vector labels ``first_vector .. +n_vectors``.

Nothing in a bundle is pickled or executed. Every check failure raises :class:`BundleError` with a
message naming what is wrong; a device that gets one keeps using the bundle it already has.
"""

from __future__ import annotations

import hashlib
import json
import platform
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.frontend import FrontEndConfig
from device.windows import WindowConfig

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_MEMBER = "encoder.onnx"
MODEL_MEMBERS = {"onnx": MODEL_MEMBER, "tflite": "encoder.tflite"}  # model format -> member name
INDEX_MEMBER = "index.hnsw"
SONGS_MEMBER = "songs.json"
REQUIRED_MEMBERS = (MODEL_MEMBER, INDEX_MEMBER, SONGS_MEMBER)
MAX_MEMBER_BYTES = 2 * 1024**3
MAX_MANIFEST_BYTES = 1024**2


class BundleError(ValueError):
    """A bundle that must not be used; the message says why."""


@dataclass
class Song:
    """One row of the song table."""

    song_id: str
    title: str
    artist: str
    source_sha256: str
    duration_s: float
    first_vector: int
    n_vectors: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Bundle:
    """A verified bundle, loaded: manifest, model bytes, search index and song table.

    ``model`` is the ONNX encoder; ``models`` holds every model format the bundle carries.
    """

    path: Path
    manifest: dict
    model: bytes
    index: object  # hnswlib.Index
    songs: list[Song]
    vector_song: np.ndarray  # song number of every vector label
    models: dict[str, bytes] = field(default_factory=dict)

    def model_for(self, model_format: str) -> bytes:
        """The encoder in ``model_format`` ("onnx" or "tflite"), or a BundleError saying the bundle lacks it."""
        if model_format not in self.models:
            raise BundleError(
                f"{self.path}: this bundle carries no {model_format} encoder (it has: {', '.join(sorted(self.models))}); "
                f"rebuild it with a hum-index that has models/weights/encoder_int8.{model_format}, or pick another backend"
            )
        return self.models[model_format]

    @property
    def frontend(self) -> FrontEndConfig:
        return FrontEndConfig.from_dict(self.manifest["frontend"])

    @property
    def windows(self) -> WindowConfig:
        return WindowConfig.from_dict(self.manifest["windows"])


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_platform() -> None:
    """hnswlib's file format stores ``size_t``: only 64-bit machines can read an index."""
    if struct.calcsize("P") != 8:
        raise BundleError(f"this {platform.machine()} system is 32-bit; bundles need a 64-bit OS (e.g. 64-bit Raspberry Pi OS)")


def read_members(path: Path) -> dict[str, bytes]:
    """All members of the zip after name, type and size checks, before any content check."""
    if not path.is_file():
        raise BundleError(f"{path}: no such bundle file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path}: not a bundle (not a readable zip archive: {exc})") from exc
    members: dict[str, bytes] = {}
    with archive:
        for info in archive.infolist():
            name = info.filename
            if "/" in name or "\\" in name or name.startswith(".") or name in members:
                raise BundleError(f"{path}: refusing member {name!r} (bundles hold flat, unique names only)")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise BundleError(f"{path}: refusing symbolic link member {name!r}")
            limit = MAX_MANIFEST_BYTES if name == MANIFEST else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise BundleError(f"{path}: member {name!r} is {info.file_size} bytes, over the {limit}-byte limit")
            try:
                members[name] = archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise BundleError(f"{path}: member {name!r} is damaged ({exc}); the file may be truncated") from exc
    return members


def check_manifest(manifest: dict, members: dict[str, bytes], path: Path, expected_frontend: FrontEndConfig | None) -> None:
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {version!r}, this device reads version {FORMAT_VERSION}; "
            "rebuild the bundle with a matching hum-index"
        )
    listed = manifest.get("members", {})
    for name in REQUIRED_MEMBERS:
        if name not in members:
            raise BundleError(f"{path}: missing member {name!r}")
    for name in members:
        if name != MANIFEST and name not in listed:
            raise BundleError(f"{path}: member {name!r} is not listed in the manifest")
    for name, digest in listed.items():
        if name not in members:
            raise BundleError(f"{path}: manifest lists {name!r} but the bundle lacks it")
        if sha256_bytes(members[name]) != digest:
            raise BundleError(f"{path}: checksum mismatch for {name!r}: the bundle is corrupt or was modified")
    try:
        frontend = FrontEndConfig.from_dict(manifest["frontend"])
        WindowConfig.from_dict(manifest["windows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: manifest front-end/window parameters unreadable ({exc})") from exc
    if expected_frontend is not None and frontend != expected_frontend:
        raise BundleError(f"{path}: bundle front end {frontend} differs from this device's {expected_frontend}")


HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")  # hnswlib HierarchicalNSW::saveIndex, 64-bit size_t


def check_index_header(data: bytes, n_vectors: int, dim: int, path: Path) -> None:
    """Checks hnswlib's own header against the manifest before hnswlib allocates anything.

    hnswlib trusts the dimension it is given and sizes its memory from the header's counts, so a
    mismatched or doctored index must be caught here, not by a crash or a huge allocation.
    """
    if len(data) < HNSW_HEADER.size:
        raise BundleError(f"{path}: search index is truncated ({len(data)} bytes)")
    (offset_level0, max_elements, count, per_element, label_offset, offset_data, *_rest) = HNSW_HEADER.unpack_from(data)
    stored_dim, remainder = divmod(label_offset - offset_data, 4)
    if remainder or stored_dim != dim:
        raise BundleError(f"{path}: search index holds vectors of size {stored_dim}, manifest says embedding size {dim}")
    if count != n_vectors or max_elements != n_vectors:
        raise BundleError(f"{path}: search index holds {count} vectors, manifest says {n_vectors}")
    if offset_level0 != 0 or HNSW_HEADER.size + count * per_element > len(data):
        raise BundleError(f"{path}: search index is truncated or malformed")


def load_bundle(path: str | Path, expected_frontend: FrontEndConfig | None = FrontEndConfig()) -> Bundle:
    """Reads, verifies and loads a bundle; raises :class:`BundleError` on any problem."""
    import hnswlib

    check_platform()
    path = Path(path)
    members = read_members(path)
    if MANIFEST not in members:
        raise BundleError(f"{path}: no {MANIFEST}: not a humbundle")
    try:
        manifest = json.loads(members[MANIFEST])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: {MANIFEST} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"{path}: {MANIFEST} is not a JSON object")
    check_manifest(manifest, members, path, expected_frontend)
    songs = parse_songs(members[SONGS_MEMBER], manifest, path)
    try:
        n_vectors = int(manifest["counts"]["vectors"])
        dim = int(manifest["embedding_dim"])
        ef = int(manifest["search"]["ef"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: manifest lacks a readable {exc} entry") from exc
    if not 1 <= dim <= 4096 or ef < 1:
        raise BundleError(f"{path}: manifest embedding size {dim} or search ef {ef} is out of range")
    check_index_header(members[INDEX_MEMBER], n_vectors, dim, path)
    index = hnswlib.Index(space="ip", dim=dim)
    with tempfile.TemporaryDirectory() as tmp:
        index_path = Path(tmp) / INDEX_MEMBER
        index_path.write_bytes(members[INDEX_MEMBER])
        try:
            index.load_index(str(index_path), max_elements=n_vectors)
        except (RuntimeError, ValueError, MemoryError) as exc:
            raise BundleError(f"{path}: search index does not load ({exc})") from exc
    index.set_ef(ef)
    vector_song = np.empty(n_vectors, dtype=np.int32)
    for number, song in enumerate(songs):
        vector_song[song.first_vector : song.first_vector + song.n_vectors] = number
    models = {fmt: members[name] for fmt, name in MODEL_MEMBERS.items() if name in members}
    return Bundle(path, manifest, members[MODEL_MEMBER], index, songs, vector_song, models)


def parse_songs(data: bytes, manifest: dict, path: Path) -> list[Song]:
    try:
        rows = json.loads(data)
        songs = [Song(**row) for row in rows]
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise BundleError(f"{path}: song table unreadable ({exc})") from exc
    counts = manifest.get("counts") if isinstance(manifest.get("counts"), dict) else {}
    if len(songs) != counts.get("songs"):
        raise BundleError(f"{path}: song table has {len(songs)} rows, manifest says {counts.get('songs')}")
    expected_first = 0
    for song in songs:
        if song.first_vector != expected_first or song.n_vectors < 1:
            raise BundleError(f"{path}: song table vector ranges are inconsistent at {song.song_id!r}")
        expected_first += song.n_vectors
    if expected_first != counts.get("vectors"):
        raise BundleError(f"{path}: song table covers {expected_first} vectors, manifest says {counts.get('vectors')}")
    return songs
