"""Windowing and scoring pieces: window cuts, time stretch, shortlist and merge over tempo scales."""

from __future__ import annotations

import numpy as np

from device.search import best_over_scales, rescore, shortlist_songs
from device.windows import cut_windows, standardise, stretch_frames, window_starts


def test_window_starts_cover_the_end():
    assert window_starts(100, 125, 25) == [0]
    assert window_starts(200, 125, 25) == [0, 25, 50, 75]
    assert window_starts(210, 125, 25)[-1] == 85


def test_short_query_is_padded_to_one_window():
    frames = np.random.default_rng(0).standard_normal((60, 144)).astype(np.float32)
    windows = cut_windows(frames, 125, 13)
    assert windows.shape == (1, 125, 144)
    np.testing.assert_allclose(windows.mean(), 0.0, atol=1e-5)


def test_standardise_removes_gain():
    window = np.random.default_rng(1).standard_normal((125, 144)).astype(np.float32)
    np.testing.assert_allclose(standardise(window + 7.0), standardise(window), atol=1e-5)


def test_stretch_frames_length_and_identity():
    frames = np.arange(100, dtype=np.float32)[:, None].repeat(3, axis=1)
    assert stretch_frames(frames, 1.0) is frames
    slow = stretch_frames(frames, 1.25)
    assert len(slow) == 125
    np.testing.assert_allclose(slow[[0, -1], 0], [0, 99])
    assert np.all(np.diff(slow[:, 0]) > 0)


def test_shortlist_sums_best_window_per_song():
    vector_song = np.array([0, 0, 1, 1, 2])
    labels = np.array([[0, 2, 4], [1, 3, 4]])
    sims = np.array([[0.9, 0.8, 0.1], [0.7, 0.6, 0.5]])
    # song 0: 0.9 + 0.7, song 1: 0.8 + 0.6, song 2: 0.1 + 0.5
    assert shortlist_songs(sims, labels, vector_song, 3).tolist() == [0, 1, 2]


def test_rescore_is_mean_of_best_matches():
    query = np.eye(3, dtype=np.float32)[:2]
    song = np.eye(3, dtype=np.float32)[[0, 2]]
    np.testing.assert_allclose(rescore(query, [song]), [0.5])


def test_best_over_scales_keeps_each_songs_best():
    songs, scores = best_over_scales([(np.array([3, 1]), np.array([0.7, 0.6])), (np.array([1, 2]), np.array([0.8, 0.1]))])
    assert songs.tolist() == [1, 3, 2]
    np.testing.assert_allclose(scores, [0.8, 0.7, 0.1])
