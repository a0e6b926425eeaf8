"""The search index's vectors as one float16 array, read straight from the hnswlib index file.

Stage 2 of the search rescores every window of every candidate song (:func:`device.search.rank_songs`),
a few thousand vectors per query on short tunes and tens of thousands on ~4-minute songs.
``hnswlib.Index.get_items`` copies them out one by one at ~10 µs each on an x86 core: 26 ms of a
2,000-song benchmark query (the whole search stage, nearly) and 185 ms of a query against 286
long songs (session 18, cProfile). Gathering rows of an array costs microseconds.

The array is read once, at load, from the file hnswlib loaded (the layout its ``saveIndex`` writes:
a header, then each element's links, vector and label at fixed offsets, which
:func:`device.bundle.check_index_header` has already checked against the manifest) and placed by
label. It is float16, a third of what the index itself holds per vector: a cosine moves by ~1e-4.
What the copy saves grows with the windows per song: a query reads ~160 candidate songs' windows,
~6 ms through hnswlib at 4 per song (the 100k-song scale test, whose 408,000 vectors would add 52 MB
to a service capped at 400 MB) but ~0.3 s on x86 at 200 per song (3.5-minute recordings at one
window a second). So the copy is made up to ``COPY_MAX_BYTES``, and for catalogs of at least
``MANY_WINDOWS_PER_SONG`` windows per song up to ``COPY_MAX_BYTES_MANY_WINDOWS``; beyond, the
search reads through hnswlib as before. The caller checks a few rows against ``get_items``
(:func:`agrees_with_index`), so a future hnswlib that lays its file out differently costs speed,
never a wrong answer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

COPY_MAX_BYTES = 32 * 1024**2  # 262,144 vectors of 64 values
MANY_WINDOWS_PER_SONG = 16  # catalogs with this many windows per song (on average) get a copy up to:
COPY_MAX_BYTES_MANY_WINDOWS = 128 * 1024**2  # 1,048,576 vectors of 64: ~5,000 songs of 3.5 min at one window a second
CHUNK_ELEMENTS = 16_384  # elements read per step, so loading never holds the file's full level-0 block
CHECKED_ROWS = 16


def worth_a_copy(count: int, dim: int, n_songs: int) -> bool:
    """Whether a catalog of ``count`` vectors over ``n_songs`` songs gets the float16 copy (see the module docstring)."""
    size = count * dim * 2
    many_windows = count >= MANY_WINDOWS_PER_SONG * max(n_songs, 1)
    return 0 < count and (size <= COPY_MAX_BYTES or (many_windows and size <= COPY_MAX_BYTES_MANY_WINDOWS))


def read_index_vectors(
    index_path: Path, data_start: int, count: int, dim: int, per_element: int, offset_data: int, label_offset: int
) -> np.ndarray | None:
    """(count, dim) float16 vectors by label from an hnswlib index file whose ``count`` elements of
    ``per_element`` bytes start at ``data_start`` (vector at ``offset_data``, label at
    ``label_offset`` in each), or None when the labels are not exactly 0..count-1 (then the search
    reads through hnswlib)."""
    if count <= 0:
        return None
    element = np.dtype(
        {
            "names": ["vector", "label"],
            "formats": [(np.float32, (dim,)), np.uint64],
            "offsets": [offset_data, label_offset],
            "itemsize": per_element,
        }
    )
    vectors = np.empty((count, dim), np.float16)
    placed = np.zeros(count, bool)
    with open(index_path, "rb") as handle:
        for start in range(0, count, CHUNK_ELEMENTS):
            rows = min(CHUNK_ELEMENTS, count - start)
            chunk = np.fromfile(handle, dtype=element, count=rows, offset=data_start if start == 0 else 0)
            if len(chunk) != rows:
                return None
            labels = chunk["label"]
            if labels.max() >= count:
                return None
            vectors[labels] = chunk["vector"]
            placed[labels] = True
    return vectors if placed.all() else None


def agrees_with_index(vectors: np.ndarray, index, seed: int = 0) -> bool:
    """Whether ``CHECKED_ROWS`` random rows (and the first and last) equal what hnswlib returns for their labels."""
    count = len(vectors)
    rows = np.unique(np.concatenate([[0, count - 1], np.random.default_rng(seed).integers(0, count, CHECKED_ROWS)]))
    stored = np.asarray(index.get_items(rows, return_type="numpy"), np.float32)
    return bool(np.allclose(vectors[rows].astype(np.float32), stored, rtol=1e-3, atol=1e-3))
