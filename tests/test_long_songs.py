"""benchmarks.long_songs: joining a catalog's songs into long ones keeps every window and contour value."""

from __future__ import annotations

import numpy as np

from benchmarks.long_songs import join_songs
from device.bundle import load_bundle
from device.recognizer import Recognizer
from tests.conftest import make_hum


def test_joined_songs_hold_their_tunes_windows_and_contours(bundle_path, tunes, tmp_path):
    source = load_bundle(bundle_path)
    holder = join_songs(source, 3, seed=0, out=tmp_path / "long.humbundle")
    joined = load_bundle(tmp_path / "long.humbundle")
    assert len(joined.songs) == int(np.ceil(len(source.songs) / 3))
    assert sorted(np.bincount(holder).tolist()) == sorted(
        [3] * (len(source.songs) // 3) + ([len(source.songs) % 3] if len(source.songs) % 3 else [])
    )
    for number in range(len(joined.songs)):
        members = np.flatnonzero(holder == number)
        row = joined.songs[number]
        assert row.n_vectors == sum(source.songs[int(s)].n_vectors for s in members)
        np.testing.assert_allclose(row.duration_s, sum(source.songs[int(s)].duration_s for s in members), atol=0.05)
        assert len(joined.contour(number)) == sum(len(source.contour(int(s))) for s in members)
    # A hum of one tune names the long song that holds it.
    answer = Recognizer(joined).recognize_audio(make_hum(tunes[2], seed=2), top=3)
    assert answer.matches[0].song_id == joined.songs[int(holder[2])].song_id
