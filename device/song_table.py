"""The song table held on the speaker: compact columns instead of one Python object per song.

A 100k-song catalog as 100k objects (each with four strings) costs ~60 MB of a Pi's memory; as
UTF-8 blobs with offsets and numpy columns it costs a few MB. Rows are materialised as
:class:`device.bundle.Song` only when asked for (the few songs of an answer).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

TEXT_COLUMNS = ("song_id", "title", "artist", "source_sha256")


class TextColumn:
    """Strings stored as one UTF-8 blob plus offsets."""

    def __init__(self, values: Sequence[str]) -> None:
        encoded = [v.encode("utf-8") for v in values]
        self.offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(e) for e in encoded], out=self.offsets[1:])
        self.blob = b"".join(encoded)

    def __getitem__(self, i: int) -> str:
        return self.blob[self.offsets[i] : self.offsets[i + 1]].decode("utf-8")


class SongTable(Sequence):
    """Songs in bundle order; ``table[i]`` is a :class:`Song`, ``first_vector``/``n_vectors`` are arrays."""

    def __init__(self, rows: Sequence[dict]) -> None:
        """``rows``: dicts with Song's fields (as in ``songs.json``); TypeError/KeyError/ValueError on a bad row."""
        for row in rows:
            if not isinstance(row, dict):
                raise TypeError(f"song row {row!r} is not an object")
        self._text = {name: TextColumn([str(row[name]) for row in rows]) for name in TEXT_COLUMNS}
        self.first_vector = np.array([int(row["first_vector"]) for row in rows], dtype=np.int64)
        self.n_vectors = np.array([int(row["n_vectors"]) for row in rows], dtype=np.int64)
        self.duration_s = np.array([float(row["duration_s"]) for row in rows], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.first_vector)

    def __getitem__(self, i):
        from device.bundle import Song

        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        text = {name: column[i] for name, column in self._text.items()}
        return Song(duration_s=float(self.duration_s[i]), first_vector=int(self.first_vector[i]), n_vectors=int(self.n_vectors[i]), **text)

    def __iter__(self) -> Iterator:
        return (self[i] for i in range(len(self)))
