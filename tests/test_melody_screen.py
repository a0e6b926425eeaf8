"""The whole-catalog melody screen: notes from a hum, interval alignment, and how it feeds the re-rank."""

from __future__ import annotations

import numpy as np

from device.bundle import load_bundle
from device.melody_screen import (
    EDIT_PENALTY,
    INTERVAL_CAP,
    INTERVAL_TOLERANCE,
    JUMP_PENALTY,
    SCREEN_MAX_INTERVALS,
    IntervalCatalog,
    align_costs,
    hum_intervals,
    song_intervals,
)
from device.recognizer import Recognizer
from device.search import SearchConfig, rerank_by_melody
from tests.conftest import make_hum


def sung(pitches: list[float], values_per_note: list[int], rng: np.random.Generator, wobble: float = 0.15) -> np.ndarray:
    """A tracked-looking contour: each note held for some values, with intonation noise."""
    return np.concatenate([p + rng.normal(0, wobble, n) for p, n in zip(pitches, values_per_note)]).astype(np.float32)


def test_hum_intervals_survive_wobble_and_ignore_key_and_note_length():
    rng = np.random.default_rng(0)
    contour = sung([60.3, 62.3, 64.3, 60.3, 67.3], [3, 5, 2, 4, 6], rng)
    assert np.allclose(hum_intervals(contour), [2, 2, -4, 7], atol=0.5)
    assert np.allclose(hum_intervals(contour - 7.0), hum_intervals(contour))
    assert len(hum_intervals(np.zeros(0, np.float32))) == 0


def test_song_intervals_merge_repeated_pitches():
    contour = np.array([60, 60, 62, 62, 62, 62, 59, 64, 64], np.float32)
    assert song_intervals(contour).tolist() == [2.0, -3.0, 5.0]


def test_alignment_finds_the_passage_and_forgives_a_dropped_or_added_note():
    song = np.array([[2, 2, -4, 7, -2, -1, -2, 3, 2, -5, 0.0, 0.0]], np.float32)
    song[0, 10:] = np.nan  # padding
    exact = np.array([-4, 7, -2, -1], np.float32)
    dropped = np.array([-4, 5, -1], np.float32)  # the 7 and the -2 merged: a note left out
    added = np.array([-4, 7, -3, 1, -1], np.float32)  # the -2 sung as -3 then +1: a note put in
    off = np.array([-4, 7, -3, -1], np.float32)  # the -2 sung a semitone wide
    assert align_costs(exact, song)[0] < 1e-6
    assert np.isclose(align_costs(dropped, song)[0], EDIT_PENALTY / 3, atol=1e-6)
    assert np.isclose(align_costs(added, song)[0], EDIT_PENALTY / 5, atol=1e-6)
    assert np.isclose(align_costs(off, song)[0], 0.25 / (1 + 2 * INTERVAL_TOLERANCE), atol=1e-6)  # 1 semitone off a tone
    elsewhere = np.array([[5, 5, 5, 5, -12, 0, 0, 0, 0, 0]], np.float32)
    assert align_costs(exact, elsewhere)[0] > 1.0
    assert align_costs(exact, np.full((1, 3), np.nan, np.float32))[0] == INTERVAL_CAP


def test_a_hook_sung_twice_aligns_with_one_jump_back(monkeypatch):
    """The alignment may leave the song for any other place once per ``JUMP_PENALTY``: a hum that
    repeats its phrase pays that once, where one contiguous stretch would miss every second take."""
    from device import melody_screen

    rng = np.random.default_rng(6)
    song = rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 7], 40).astype(np.float32)[None, :]
    phrase = song[0, 6:26]
    twice = np.concatenate([phrase, [-phrase.sum()], phrase]).astype(np.float32)  # back to the phrase's first note, then again
    jumped = align_costs(twice, song)[0]
    assert jumped <= (JUMP_PENALTY + INTERVAL_CAP) / len(twice) + 1e-5  # one jump, one missed interval at most
    monkeypatch.setattr(melody_screen, "JUMP_PENALTY", np.inf)
    assert align_costs(twice, song)[0] > 1.5 * jumped
    assert align_costs(phrase, song)[0] < 1e-6


def test_a_leap_sung_narrow_costs_less_than_the_same_miss_on_a_step():
    """Untrained singers compress leaps: 9 semitones sung for an octave is a smaller slip than 3
    semitones sung for a tone, and such a hum still puts its song ahead of one that differs."""
    song = np.array([[12, -2, -1, -2, 5, 0.0]], np.float32)
    song[0, 5] = np.nan
    compressed = np.array([9, -2, -1, -2], np.float32)  # the octave sung as a sixth
    stepped_off = np.array([12, -2, -1, 1], np.float32)  # the last tone sung 3 semitones off
    assert INTERVAL_TOLERANCE > 0
    assert align_costs(compressed, song)[0] < align_costs(stepped_off, song)[0]
    other = np.array([[-5, 3, 2, -2, -1, 4]], np.float32)
    assert align_costs(compressed, song)[0] < 0.5 * align_costs(compressed, other)[0]


def test_catalog_screen_picks_the_sung_tune_from_notes_and_from_tracked_contours():
    rng = np.random.default_rng(1)
    songs = [np.repeat(rng.integers(55, 75, 50).astype(np.float32), rng.integers(2, 5, 50)) for _ in range(300)]
    notes = np.flatnonzero(np.abs(np.diff(songs[123])) > 0)[10:25]
    pitches = (songs[123][notes + 1] - 9.0).tolist()  # 15 notes of song 123, in another key
    hum = sung(pitches, list(rng.integers(2, 6, len(pitches))), rng)
    screen = IntervalCatalog.from_contours(lambda s: songs[s], len(songs))
    assert screen.best(hum, 5)[0] == 123
    tracked = songs[123] + np.random.default_rng(2).normal(0, 0.12, len(songs[123])).astype(np.float32)
    estimated = np.zeros(len(songs), bool)
    estimated[123] = True
    from_audio = IntervalCatalog.from_contours(lambda s: tracked if s == 123 else songs[s], len(songs), estimated)
    assert from_audio.best(hum, 5)[0] == 123  # a tracked contour's jitter is cut into notes as a hum's is
    exact_cut = IntervalCatalog.from_contours(lambda s: tracked if s == 123 else songs[s], len(songs))
    assert from_audio.costs(hum)[123] < exact_cut.costs(hum)[123]  # cut as exact notes, the jitter is dozens of notes
    assert len(screen.best(np.zeros(0, np.float32), 5)) == 0  # silence: nothing to add
    assert len(screen.best(np.full(20, 60.0, np.float32), 5)) == 0  # one held note has no intervals
    assert np.isnan(IntervalCatalog([None, np.array([2.0], np.float32)]).costs(hum)[0])  # left out: no opinion


def test_a_long_hum_is_screened_with_its_last_intervals_and_still_finds_its_tune():
    """The screen visits every song with every interval, so a 25 s hum would cost ~3x a 10 s one:
    past ``SCREEN_MAX_INTERVALS`` only the hum's last intervals count, the ones it ended on."""
    rng = np.random.default_rng(5)
    songs = [np.repeat(rng.integers(55, 75, 90).astype(np.float32), rng.integers(2, 5, 90)) for _ in range(200)]
    screen = IntervalCatalog.from_contours(lambda s: songs[s], len(songs))
    notes = songs[77][np.concatenate([[0], np.flatnonzero(np.diff(songs[77]) != 0) + 1])]
    long_hum = np.repeat(notes[10 : 10 + SCREEN_MAX_INTERVALS + 21] + 3.0, 3)  # 50 intervals of song 77
    tail = np.repeat(notes[10 + 20 : 10 + SCREEN_MAX_INTERVALS + 21] + 3.0, 3)  # its last 30
    assert len(hum_intervals(long_hum)) == SCREEN_MAX_INTERVALS + 20
    assert np.array_equal(screen.costs(long_hum), screen.costs(tail))
    assert screen.best(long_hum, 3)[0] == 77
    short_hum = long_hum[: 3 * (SCREEN_MAX_INTERVALS - 5)]  # under the cap: every interval counts
    assert not np.array_equal(screen.costs(short_hum), screen.costs(short_hum[3 * 5 :]))


def test_rerank_takes_screened_songs_from_below_the_head():
    rng = np.random.default_rng(4)
    songs = [np.repeat(rng.integers(55, 75, 40).astype(np.float32), rng.integers(2, 5, 40)) for _ in range(40)]
    query = (songs[35][20:80] + 2.0).astype(np.float32)
    scores = np.linspace(0.8, 0.4, 40)
    config = SearchConfig(rerank=10)
    alone, _ = rerank_by_melody(np.arange(40), scores, query, lambda s: songs[s], config)
    helped, fused = rerank_by_melody(np.arange(40), scores, query, lambda s: songs[s], config, also=np.array([35]))
    assert alone[0] != 35 and 35 not in alone[:10].tolist()
    assert helped[0] == 35
    assert sorted(helped.tolist()) == list(range(40)) and np.all(np.diff(fused) <= 0)


def test_screen_cost_counts_in_the_final_score_and_silence_is_neutral():
    """Two songs the DTW finds equally good: the one whose intervals fit better wins; a song the
    screen left out (NaN) pays the neutral charge, as every song does when no costs are given."""
    from device.search import SCREEN_NEUTRAL_COST, melody_charge

    song = np.repeat(np.array([60, 62, 64, 65, 67, 65, 64, 62], np.float32), 4)
    songs = [song, song.copy(), song.copy()]
    query = song[4:28] + 5.0
    scores = np.array([0.6, 0.6, 0.6])
    config = SearchConfig()
    screen_costs = np.array([0.9, 0.3, np.nan], np.float32)
    ranked, fused = rerank_by_melody(np.arange(3), scores, query, lambda s: songs[s], config, screen_costs=screen_costs)
    assert ranked.tolist() == [1, 2, 0]
    plain_ranked, plain = rerank_by_melody(np.arange(3), scores, query, lambda s: songs[s], config)
    charge = {1: 0.3, 2: SCREEN_NEUTRAL_COST, 0: 0.9}
    for song_number, value in zip(ranked, fused):
        shift = melody_charge(charge[int(song_number)], config.screen_weight, config) - melody_charge(
            SCREEN_NEUTRAL_COST, config.screen_weight, config
        )
        assert np.isclose(value, plain[0] - shift, atol=1e-5)
    estimated = np.array([False, True, True])  # song 1's contour tracked from audio: its screen cost does not count
    mixed, mixed_fused = rerank_by_melody(np.arange(3), scores, query, lambda s: songs[s], config, estimated, screen_costs=screen_costs)
    by_song = dict(zip(mixed.tolist(), mixed_fused.tolist()))
    assert np.isclose(by_song[1], by_song[2])  # same contour, both tracked: the screen's 0.3 vs NaN no longer matters


def test_recognizer_screens_small_catalogs_only(bundle_path, tunes):
    bundle = load_bundle(bundle_path)
    hum = make_hum(tunes[2], seed=7, transpose=5.0, tempo_factor=0.9)
    screened = Recognizer(bundle).recognize_audio(hum)
    assert screened.matches[0].song_id == "song2.mid"
    assert "screen" in screened.timings_ms
    capped = Recognizer(bundle, search=SearchConfig(screen_max_songs=len(bundle.songs) - 1)).recognize_audio(hum)
    assert "screen" not in capped.timings_ms
    assert capped.matches[0].song_id == "song2.mid"
