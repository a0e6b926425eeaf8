"""Windowing and scoring pieces: window cuts, time stretch, shortlist and merge over tempo scales."""

from __future__ import annotations

import numpy as np

from device.search import rescore, shortlist_songs
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
    other = np.eye(3, dtype=np.float32)[[1]]
    # song 0 matches window 0 only (mean 0.5); song 1 matches window 1 only (0.5); song 2 = both (1.0)
    stacked = np.concatenate([song, other, np.eye(3, dtype=np.float32)[:2]])
    np.testing.assert_allclose(rescore(query, stacked, np.array([0, 2, 3, 5])), [0.5, 0.5, 1.0])


def test_rank_songs_keeps_each_songs_best_version():
    import hnswlib

    from device.search import SearchConfig, rank_songs

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((30, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = hnswlib.Index(space="ip", dim=16)
    index.init_index(max_elements=30, M=8, ef_construction=50)
    index.add_items(vectors, np.arange(30), num_threads=1)  # one thread: the same graph every run (see session 32's note)
    index.set_ef(50)
    first, count = np.array([0, 10, 20]), np.array([10, 10, 10])
    vector_song = np.repeat([0, 1, 2], 10)
    exact_song1 = vectors[12:15]  # three windows of song 1, as they were indexed
    noisy_song2 = vectors[[21, 22]] + 0.3 * rng.standard_normal((2, 16)).astype(np.float32)
    noisy_song2 /= np.linalg.norm(noisy_song2, axis=1, keepdims=True)
    queries = np.concatenate([noisy_song2, exact_song1])
    songs, scores = rank_songs(queries, [2, 3], index, vector_song, first, count, SearchConfig(k_per_window=10, shortlist=3))
    assert songs[0] == 1
    np.testing.assert_allclose(scores[0], 1.0, atol=1e-5)
    assert sorted(songs.tolist()) == [0, 1, 2]


def test_length_charge_is_centred_on_the_median_and_grows_with_length():
    from device.search import SHORTEST_SONG_S, SearchConfig, length_charge

    config = SearchConfig(length_weight=0.2)
    charge = length_charge(np.array([10.0, 30.0, 30.0, 90.0, 0.0]), config)
    assert charge[1] == 0.0 and charge[2] == 0.0  # the median song: its score does not move
    np.testing.assert_allclose(charge[3], 0.2 * np.log(3.0))
    np.testing.assert_allclose(charge[0], -0.2 * np.log(3.0))
    np.testing.assert_allclose(charge[4], 0.2 * np.log(SHORTEST_SONG_S / 30.0))  # a 0 s row: floored, finite
    assert not length_charge(np.array([10.0, 90.0]), SearchConfig(length_weight=0.0)).any()
    assert length_charge(np.array([]), config).shape == (0,)


def test_recognizer_charges_long_songs(bundle_path, tunes):
    """The fused scores are the uncharged ones minus each song's length charge; the embedding's
    own ranking (melody stage off) is left as it was."""
    from device.bundle import load_bundle
    from device.recognizer import Recognizer
    from device.search import SearchConfig, length_charge
    from tests.conftest import make_hum

    bundle = load_bundle(bundle_path)
    charges = length_charge(bundle.songs.duration_s, SearchConfig())
    assert np.ptp(charges) > 0.01  # the test catalog's songs differ in length
    hum = make_hum(tunes[3], seed=3)
    charged = Recognizer(bundle).recognize_audio(hum, top=8)
    plain = Recognizer(bundle, search=SearchConfig(length_weight=0.0)).recognize_audio(hum, top=8)
    row_of = {song.song_id: i for i, song in enumerate(bundle.songs)}
    plain_score = {m.song_id: m.score for m in plain.matches}
    assert charged.matches[0].song_id == "song3.wav"
    for match in charged.matches:
        np.testing.assert_allclose(match.score, plain_score[match.song_id] - charges[row_of[match.song_id]], atol=1e-6)
    embedding_only = {
        w: Recognizer(bundle, search=SearchConfig(rerank=0, length_weight=w)).recognize_audio(hum, top=8) for w in (0.0, 0.15)
    }
    assert [m.to_dict() for m in embedding_only[0.0].matches] == [m.to_dict() for m in embedding_only[0.15].matches]


def test_the_melody_screen_adds_a_tenth_of_the_catalog_between_its_floor_and_its_size():
    """200 songs were measured on 2,000 (a tenth); a small catalog keeps 60 (not most of its songs
    through the DTW); a profile's smaller screen is never raised."""
    from dataclasses import replace

    from device.search import SearchConfig

    config = SearchConfig()
    assert [config.screen_size(n) for n in (8, 300, 1000, 2000, 9000)] == [60, 60, 100, 200, 200]
    assert replace(config, screen=25).screen_size(2000) == 25


def test_a_query_without_a_pitched_sound_still_lists_its_matches_best_first(bundle_path):
    """A recording with nothing pitched in it (a DC offset, a hiss) has no contour, so the melody
    stage has nothing to match: the answer is the embedding's, length-charged, and its ``score``
    still orders the matches (the JSON contract), which the confidence's lead also reads."""
    from device.bundle import load_bundle
    from device.frontend import compute_features
    from device.pitch import hum_contour
    from device.recognizer import Recognizer

    recognizer = Recognizer(load_bundle(bundle_path))
    rng = np.random.default_rng(0)
    flat = (0.5 + 1e-4 * rng.standard_normal(5 * 16000)).astype(np.float32)
    assert len(hum_contour(compute_features(flat, recognizer.frontend_config), recognizer.frontend_config)) == 0
    answer = recognizer.recognize_audio(flat, top=8)
    scores = [m.score for m in answer.matches]
    assert len(scores) > 2 and scores == sorted(scores, reverse=True)
    assert not answer.confident
