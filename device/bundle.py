"""Reading and checking a catalog bundle (``*.humbundle``): one zip file, verified before use.

Members (flat names, nothing else is accepted):
- ``manifest.json``: format version, creation time, builder version, front-end and window
  parameters, embedding size and metric, counts, search settings, and the sha256 of every other
  member.
- ``encoder.onnx``: the encoder the song embeddings were made with (int8, onnxruntime).
- ``encoder.tflite`` (optional): the same encoder as an int8 TFLite model, for the TFLite backends.
- ``index.hnsw``: hnswlib index of song-window embeddings (inner product on unit vectors).
- ``songs.json``: the song table; song ``i`` owns vector labels ``first_vector .. +n_vectors``.
- ``melodies.npz`` (optional): each song's melody contour (``values``, uint8 steps of 1/3 semitone
  above MIDI 20, :func:`device.pitch.pack_contour`) cut by ``offsets`` (int64, songs + 1), and
  ``encoding`` (float64 [lowest MIDI, steps per semitone] = [20, 3]) and ``estimated`` (bool per song:
  tracked from audio, matched octave-folded); plain arrays, loaded without
  pickle. Bundles from before ``encoding`` hold octave-folded pitch classes, which the matcher no
  longer reads: they load, with a warning, and answer without the melody stage.
- ``manifest.sig`` (optional): an Ed25519 signature over the exact bytes of ``manifest.json``
  (:mod:`device.signing`); a device configured with a public key refuses a bundle without a good one.

Nothing in a bundle is pickled or executed. Every check failure raises :class:`BundleError` with a
message naming what is wrong; a device that gets one keeps using the bundle it already has.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import platform
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device import signing
from device.frontend import FrontEndConfig
from device.index_vectors import agrees_with_index, read_index_vectors, worth_a_copy
from device.memory import keep_large_blocks_out_of_the_heap, release_free_memory
from device.signing import SIGNATURE_MEMBER
from device.song_table import SongTable
from device.windows import WindowConfig

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_MEMBER = "encoder.onnx"
MODEL_MEMBERS = {"onnx": MODEL_MEMBER, "tflite": "encoder.tflite"}  # model format -> member name
INDEX_MEMBER = "index.hnsw"
SONGS_MEMBER = "songs.json"
MELODY_MEMBER = "melodies.npz"  # optional: every song's melody contour (device.pitch), for re-ranking
REQUIRED_MEMBERS = (MODEL_MEMBER, INDEX_MEMBER, SONGS_MEMBER)
MAX_MEMBER_BYTES = 2 * 1024**3
MAX_MEMBERS = 16
SMALL_MEMBER_BYTES = {MANIFEST: 1024**2, SIGNATURE_MEMBER: signing.SIGNATURE_BYTES}  # members with tighter limits


class BundleError(ValueError):
    """A bundle that must not be used; the message says why."""


@dataclass(slots=True)
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
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass
class Bundle:
    """A verified bundle, loaded: manifest, model bytes, search index and song table.

    ``model`` is the ONNX encoder; ``models`` holds every model format the bundle carries.
    """

    path: Path
    manifest: dict
    model: bytes
    index: object  # hnswlib.Index
    songs: SongTable
    vector_song: np.ndarray  # song number of every vector label
    models: dict[str, bytes] = field(default_factory=dict)
    signed: bool = False
    contour_values: np.ndarray | None = None  # packed contours of every song (device.pitch.pack_contour), concatenated
    contour_offsets: np.ndarray | None = None  # song i owns contour_values[offsets[i]:offsets[i+1]]
    contour_estimated: np.ndarray | None = None  # per song: contour tracked from audio (matched octave-folded)
    vectors: np.ndarray | None = None  # the index's vectors by label, float16 (device.index_vectors); None: read through hnswlib

    def contour(self, song: int) -> np.ndarray:
        """Song ``song``'s melody contour in MIDI semitones, empty when the bundle has none."""
        from device.pitch import unpack_contour

        if self.contour_values is None:
            return np.zeros(0, np.float32)
        return unpack_contour(self.contour_values[self.contour_offsets[song] : self.contour_offsets[song + 1]])

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


def open_archive(path: Path) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """The bundle's zip and its members after name, type, size and count checks, before any content is read."""
    if not path.is_file():
        raise BundleError(f"{path}: no such bundle file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path}: not a bundle (not a readable zip archive: {exc})") from exc
    infos: dict[str, zipfile.ZipInfo] = {}
    entries = archive.infolist()
    if len(entries) > MAX_MEMBERS:
        archive.close()
        raise BundleError(f"{path}: {len(entries)} members, a bundle has at most {MAX_MEMBERS}")
    for info in entries:
        name = info.filename
        problem = ""
        if "/" in name or "\\" in name or name.startswith(".") or name in infos:
            problem = f"refusing member {name!r} (bundles hold flat, unique names only)"
        elif (info.external_attr >> 16) & 0o170000 == 0o120000:
            problem = f"refusing symbolic link member {name!r}"
        else:
            limit = SMALL_MEMBER_BYTES.get(name, MAX_MEMBER_BYTES)
            if info.file_size > limit:
                problem = f"member {name!r} is {info.file_size} bytes, over the {limit}-byte limit"
        if problem:
            archive.close()
            raise BundleError(f"{path}: {problem}")
        infos[name] = info
    return archive, infos


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, sink=None) -> tuple[str, bytes]:
    """(sha256, bytes) of one member, read in blocks; with ``sink`` the bytes go there instead of memory.

    Reading stops at the size the zip directory declared, so a doctored header cannot make the
    device read (or allocate) more than the checked limit.
    """
    digest = hashlib.sha256()
    parts: list[bytes] = []
    total = 0
    try:
        with archive.open(info) as handle:
            while block := handle.read(1 << 20):
                total += len(block)
                if total > info.file_size:
                    raise BundleError(f"{path}: member {info.filename!r} is longer than its directory entry says")
                digest.update(block)
                if sink is None:
                    parts.append(block)
                else:
                    sink.write(block)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise BundleError(f"{path}: member {info.filename!r} is damaged ({exc}); the file may be truncated") from exc
    return digest.hexdigest(), b"".join(parts)


def read_manifest(path: str | Path) -> tuple[dict, bytes, bytes | None]:
    """(manifest, its exact bytes, signature or None) without reading the other members.

    Only the archive's shape is checked here; :func:`load_bundle` checks everything.
    """
    path = Path(path)
    archive, infos = open_archive(path)
    with archive:
        return manifest_and_signature(archive, infos, path)


def manifest_and_signature(archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], path: Path) -> tuple[dict, bytes, bytes | None]:
    """(parsed manifest, its exact bytes, signature or None) of an open bundle."""
    if MANIFEST not in infos:
        raise BundleError(f"{path}: no {MANIFEST}: not a humbundle")
    manifest_bytes = read_member(archive, infos[MANIFEST], path)[1]
    signature = read_member(archive, infos[SIGNATURE_MEMBER], path)[1] if SIGNATURE_MEMBER in infos else None
    return parse_manifest(manifest_bytes, path), manifest_bytes, signature


def parse_manifest(data: bytes, path: Path) -> dict:
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: {MANIFEST} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"{path}: {MANIFEST} is not a JSON object")
    return manifest


def check_manifest(manifest: dict, names: set[str], path: Path, expected_frontend: FrontEndConfig | None) -> None:
    """Version, member list and front end; the members' checksums are compared as they are read."""
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {version!r}, this device reads version {FORMAT_VERSION}; "
            "rebuild the bundle with a matching hum-index"
        )
    listed = manifest.get("members")
    if not isinstance(listed, dict) or not all(isinstance(v, str) for v in listed.values()):
        raise BundleError(f"{path}: manifest has no readable member list")
    for name in REQUIRED_MEMBERS:
        if name not in names:
            raise BundleError(f"{path}: missing member {name!r}")
    for name in names:
        if name not in (MANIFEST, SIGNATURE_MEMBER) and name not in listed:
            raise BundleError(f"{path}: member {name!r} is not listed in the manifest")
    for name in listed:
        if name not in names:
            raise BundleError(f"{path}: manifest lists {name!r} but the bundle lacks it")
    try:
        frontend = FrontEndConfig.from_dict(manifest["frontend"])
        WindowConfig.from_dict(manifest["windows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: manifest front-end/window parameters unreadable ({exc})") from exc
    if expected_frontend is not None and frontend != expected_frontend:
        raise BundleError(f"{path}: bundle front end {frontend} differs from this device's {expected_frontend}")


def check_digest(name: str, digest: str, manifest: dict, path: Path) -> None:
    if manifest["members"][name] != digest:
        raise BundleError(f"{path}: checksum mismatch for {name!r}: the bundle is corrupt or was modified")


HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")  # hnswlib HierarchicalNSW::saveIndex, 64-bit size_t


def check_index_header(header: bytes, size: int, n_vectors: int, dim: int, path: Path) -> tuple[int, int, int]:
    """Checks hnswlib's own header (``header``: the first bytes of a ``size``-byte index) against the manifest.

    hnswlib trusts the dimension it is given and sizes its memory from the header's counts, so a
    mismatched or doctored index must be caught here, not by a crash or a huge allocation.
    Returns the element layout: (bytes per element, vector offset, label offset) within an element.
    """
    if len(header) < HNSW_HEADER.size:
        raise BundleError(f"{path}: search index is truncated ({size} bytes)")
    (offset_level0, max_elements, count, per_element, label_offset, offset_data, *_rest) = HNSW_HEADER.unpack_from(header)
    stored_dim, remainder = divmod(label_offset - offset_data, 4)
    if remainder or stored_dim != dim:
        raise BundleError(f"{path}: search index holds vectors of size {stored_dim}, manifest says embedding size {dim}")
    if count != n_vectors or max_elements != n_vectors:
        raise BundleError(f"{path}: search index holds {count} vectors, manifest says {n_vectors}")
    if offset_level0 != 0 or HNSW_HEADER.size + count * per_element > size:
        raise BundleError(f"{path}: search index is truncated or malformed")
    return per_element, offset_data, label_offset


def manifest_numbers(manifest: dict, path: Path) -> tuple[int, int, int]:
    """(vectors, embedding size, search ef) from the manifest, range-checked."""
    try:
        n_vectors = int(manifest["counts"]["vectors"])
        dim = int(manifest["embedding_dim"])
        ef = int(manifest["search"]["ef"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: manifest lacks a readable {exc} entry") from exc
    if not 1 <= dim <= 4096 or ef < 1 or n_vectors < 1:
        raise BundleError(f"{path}: manifest embedding size {dim}, vector count {n_vectors} or search ef {ef} is out of range")
    return n_vectors, dim, ef


def load_bundle(path: str | Path, expected_frontend: FrontEndConfig | None = FrontEndConfig(), public_key=None) -> Bundle:
    """Reads, verifies and loads a bundle; raises :class:`BundleError` on any problem.

    ``public_key`` (an Ed25519 public key, see :mod:`device.signing`): when given, the bundle must
    carry a signature by that key over its manifest. The search index is hashed while it is
    copied to a temporary file for hnswlib, never held in memory twice, so a 100k-song bundle
    loads within the speaker's memory budget; a float16 copy of its vectors for the search is read
    from that file only where it pays (:func:`device.index_vectors.worth_a_copy`).
    """
    import hnswlib

    check_platform()
    keep_large_blocks_out_of_the_heap()  # a speaker's process: answers give their big temporaries back (device.memory)
    path = Path(path)
    archive, infos = open_archive(path)
    with archive, tempfile.TemporaryDirectory(prefix="humbundle-") as tmp:
        manifest, manifest_bytes, signature = manifest_and_signature(archive, infos, path)
        if public_key is not None:
            try:
                signing.verify(public_key, manifest_bytes, signature, str(path))
            except signing.SignatureError as exc:
                raise BundleError(str(exc)) from exc
        check_manifest(manifest, set(infos), path, expected_frontend)
        n_vectors, dim, ef = manifest_numbers(manifest, path)
        small: dict[str, bytes] = {}
        for name, info in infos.items():
            if name in (MANIFEST, SIGNATURE_MEMBER, INDEX_MEMBER):
                continue
            digest, small[name] = read_member(archive, info, path)
            check_digest(name, digest, manifest, path)
        songs = parse_songs(small[SONGS_MEMBER], manifest, path)
        index_path = Path(tmp) / INDEX_MEMBER
        with open(index_path, "wb") as sink:
            digest, _ = read_member(archive, infos[INDEX_MEMBER], path, sink=sink)
        check_digest(INDEX_MEMBER, digest, manifest, path)
        with open(index_path, "rb") as handle:
            layout = check_index_header(handle.read(HNSW_HEADER.size), index_path.stat().st_size, n_vectors, dim, path)
        index = hnswlib.Index(space="ip", dim=dim)
        try:
            index.load_index(str(index_path), max_elements=n_vectors)
        except (RuntimeError, ValueError, MemoryError) as exc:
            raise BundleError(f"{path}: search index does not load ({exc})") from exc
        vectors = None
        if worth_a_copy(n_vectors, dim, len(songs)):
            vectors = read_index_vectors(index_path, HNSW_HEADER.size, n_vectors, dim, *layout)
    if vectors is not None and not agrees_with_index(vectors, index):
        logger.warning("%s: the index file's vectors do not read back as hnswlib's; searching through hnswlib (slower)", path)
        vectors = None
    index.set_ef(ef)
    vector_song = np.repeat(np.arange(len(songs), dtype=np.int32), songs.n_vectors)
    models = {fmt: small[name] for fmt, name in MODEL_MEMBERS.items() if name in small}
    bundle = Bundle(path, manifest, small[MODEL_MEMBER], index, songs, vector_song, models, signature is not None, vectors=vectors)
    if MELODY_MEMBER in small:
        bundle.contour_values, bundle.contour_offsets, bundle.contour_estimated = parse_contours(small[MELODY_MEMBER], len(songs), path)
    del small
    release_free_memory()  # the parsing and copying above leave tens of MB in the heap
    return bundle


def parse_contours(data: bytes, n_songs: int, path: Path) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(values, offsets, estimated) of the songs' contours; Nones for the old octave-folded encoding."""
    from device.pitch import CONTOUR_LOWEST_MIDI, CONTOUR_STEPS_PER_SEMITONE

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            values, offsets = arrays["values"], arrays["offsets"]
            encoding = arrays["encoding"].tolist() if "encoding" in arrays.files else None
            estimated = arrays["estimated"] if "estimated" in arrays.files else np.zeros(n_songs, bool)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path}: {MELODY_MEMBER} unreadable ({exc})") from exc
    if encoding is None:
        logger.warning("%s: melody contours in the old pitch-class encoding; answering without the melody stage (rebuild the bundle)", path)
        return None, None, None
    if encoding != [CONTOUR_LOWEST_MIDI, CONTOUR_STEPS_PER_SEMITONE]:
        raise BundleError(f"{path}: {MELODY_MEMBER} encoding {encoding} is not one this device reads")
    if (
        values.dtype != np.uint8
        or offsets.dtype != np.int64
        or offsets.shape != (n_songs + 1,)
        or offsets[0] != 0
        or offsets[-1] != len(values)
        or np.any(np.diff(offsets) < 0)
        or estimated.dtype != np.bool_
        or estimated.shape != (n_songs,)
    ):
        raise BundleError(f"{path}: {MELODY_MEMBER} does not fit the song table")
    return values, offsets, estimated


def parse_songs(data: bytes, manifest: dict, path: Path) -> SongTable:
    try:
        rows = json.loads(data)
        if not isinstance(rows, list):
            raise TypeError("not a list of songs")
        songs = SongTable(rows)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
        raise BundleError(f"{path}: song table unreadable ({exc})") from exc
    del rows
    counts = manifest.get("counts") if isinstance(manifest.get("counts"), dict) else {}
    if len(songs) != counts.get("songs"):
        raise BundleError(f"{path}: song table has {len(songs)} rows, manifest says {counts.get('songs')}")
    expected_first = np.concatenate([[0], np.cumsum(songs.n_vectors)[:-1]]) if len(songs) else songs.first_vector
    bad = np.flatnonzero((songs.first_vector != expected_first) | (songs.n_vectors < 1))
    if len(bad):
        raise BundleError(f"{path}: song table vector ranges are inconsistent at {songs[int(bad[0])].song_id!r}")
    if int(songs.n_vectors.sum()) != counts.get("vectors"):
        raise BundleError(f"{path}: song table covers {int(songs.n_vectors.sum())} vectors, manifest says {counts.get('vectors')}")
    return songs
