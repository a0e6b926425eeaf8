"""The melody stage: pitch from the front end, contours from notes, DTW in any key and tempo, re-ranking."""

from __future__ import annotations

import numpy as np
import pytest

from device import melody_match
from device.bundle import load_bundle
from device.frontend import FrontEndConfig, compute_features
from device.melody_match import COST_CAP, dtw_costs, match_contours
from device.pitch import (
    HUM_RANGE_SEMITONES,
    HUM_VOICING_DB,
    RECORDING_FMIN_HZ,
    RECORDING_HARMONIC_DECAY,
    VOICING_DB,
    frame_pitches,
    harmonic_salience,
    hum_contour,
    matching_contour,
    notes_contour,
    pack_contour,
    pitches_along,
    recording_pitches,
    smoothest_path,
    unpack_contour,
    voice_pitches,
    without_noise_floor,
)
from device.recognizer import Recognizer
from device.search import SearchConfig
from models.dsp import mains_buzz, mix_at_snr
from tests.conftest import make_hum

SR = 16000


def harmonic_tone(f0: float, seconds: float, harmonics: int = 6) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, harmonics + 1)).astype(np.float32)


@pytest.mark.parametrize("f0, midi", [(110.0, 45.0), (220.0, 57.0), (523.25, 72.0), (1760.0, 93.0)])
def test_pitch_of_a_harmonic_tone(f0, midi):
    audio = np.concatenate([np.zeros(SR // 2, np.float32), harmonic_tone(f0, 2.0), np.zeros(SR // 2, np.float32)])
    pitches = frame_pitches(compute_features(audio), FrontEndConfig())
    voiced = pitches[~np.isnan(pitches)]
    assert len(voiced) > 40  # ~2 s at 25 frames/s
    assert np.median(np.abs(voiced - midi)) < 0.3
    assert np.isnan(pitches[:8]).all()  # the leading silence is not a note


@pytest.mark.parametrize("f0", [110.0, 146.8])
def test_a_voice_without_its_fundamental_is_not_heard_an_octave_up(f0):
    """A man's "la" through a microphone that cuts its fundamental, a formant lifting harmonics 2
    and 4: the harmonic sum alone hears the octave above; the odd harmonics (3f, 5f) bring it down."""
    t = np.arange(2 * SR) / SR
    harmonics = {2: 1.0, 3: 0.35, 4: 0.8, 5: 0.3, 6: 0.5, 7: 0.2, 8: 0.3}
    audio = sum(0.3 * a * np.sin(2 * np.pi * k * f0 * t) for k, a in harmonics.items()).astype(np.float32)
    frames = compute_features(audio)
    midi = 69 + 12 * np.log2(f0 / 440)
    checked = frame_pitches(frames, FrontEndConfig())
    unchecked = frame_pitches(frames, FrontEndConfig(), octave_check=False)
    assert np.nanmedian(np.abs(unchecked - (midi + 12))) < 0.3  # what the check is there for
    assert np.nanmedian(np.abs(checked - midi)) < 0.3


def test_hum_contour_keeps_a_note_sung_much_softer_than_the_loudest():
    """A hum's second note 17 dB below its first (a fading closed-mouth hum): still part of the
    tune for the hum tracker (HUM_VOICING_DB), silence for the tracker's general threshold."""
    loud, soft = harmonic_tone(261.6, 1.5), harmonic_tone(329.6, 1.5) * np.float32(10 ** (-17 / 20))
    frames = compute_features(np.concatenate([loud, soft]))
    general = matching_contour(frame_pitches(frames, FrontEndConfig()))
    hum = hum_contour(frames, FrontEndConfig())
    assert not np.any(np.abs(general - 64.0) < 0.5)
    assert np.sum(np.abs(hum - 64.0) < 0.5) >= 8  # ~12 contour values of E4
    assert np.sum(np.abs(hum - 60.0) < 0.5) >= 8


def test_a_high_whistle_is_tracked_at_its_own_octave():
    """A whistle (a sine) stepping from 2.1 kHz up to 2.8-3.1 kHz and back: its notes above the
    recording tracker's 2.6 kHz are a hum's notes too, not the octave below (a 12-semitone leap)."""
    notes = (96.0, 101.0, 103.0, 98.0)  # C7, F7, G7, D7
    t = np.arange(int(0.6 * SR)) / SR
    audio = np.concatenate([0.5 * np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * t) for m in notes]).astype(np.float32)
    pitches = voice_pitches(compute_features(audio), FrontEndConfig())
    per_note = np.array_split(pitches, len(notes))
    for midi, frames in zip(notes, per_note):
        assert np.nanmedian(np.abs(frames - midi)) < 0.5, (midi, frames)


def test_a_low_hum_is_tracked_at_its_own_octave():
    """A man humming down to C2 (65 Hz) and back up: the notes below 75 Hz are his own, not the
    octave above (which the harmonic sum hears when the fundamental is no candidate)."""
    notes = (43.0, 38.0, 36.0, 41.0)  # G2, D2, C2, F2
    audio = np.concatenate([harmonic_tone(440 * 2 ** ((m - 69) / 12), 0.6) for m in notes])
    pitches = voice_pitches(compute_features(audio), FrontEndConfig())
    for midi, frames in zip(notes, np.array_split(pitches, len(notes))):
        assert np.nanmedian(np.abs(frames - midi)) < 0.5, (midi, frames)


def test_hum_contour_drops_what_lies_far_outside_the_voice():
    """A voice around C4-E4, then a loud tone three octaves up (a whistle-like noise): the hum
    contour keeps the voice and drops the tone, which the plain contour keeps."""
    voice = np.concatenate([harmonic_tone(261.6, 1.5), harmonic_tone(329.6, 1.5), harmonic_tone(293.7, 1.5)])
    audio = np.concatenate([voice, harmonic_tone(2093.0, 0.8, harmonics=2)])
    frames = compute_features(audio)
    plain = matching_contour(frame_pitches(frames, FrontEndConfig()))
    kept = hum_contour(frames, FrontEndConfig())
    assert np.any(plain > 90)
    assert not np.any(kept > 70) and len(kept) >= len(plain) - 8
    assert np.all(np.abs(kept - np.median(kept)) <= HUM_RANGE_SEMITONES)


def test_recording_tracker_takes_the_tune_over_the_bass():
    """A tune (piano-like tones around A4) over a louder bass line an octave and more below: the
    recording tracker follows the tune; the voice tracker, which must reach a man's low hum, the bass."""
    tune = np.concatenate([harmonic_tone(f, 0.5) for f in (440.0, 493.9, 523.3, 587.3, 523.3, 493.9)])
    bass = 1.6 * np.concatenate([harmonic_tone(f, 1.0, harmonics=3) for f in (98.0, 110.0, 98.0)])
    frames = compute_features(tune + bass)
    recording = recording_pitches(frames, FrontEndConfig())
    voice = frame_pitches(frames, FrontEndConfig())
    assert np.nanmedian(recording) > 66  # around A4 (MIDI 69-74)
    assert np.nanmedian(voice) < 50


def test_recording_tracker_keeps_the_tune_over_a_bass_doubling_it_two_octaves_below():
    """A bass playing the tune's own notes two octaves down, as loud as the tune: its fundamental and
    the tune's harmonics add up on the low candidate, which each frame's winner takes (MIDI ~50);
    the recording tracker, which favours the top voice, stays on the tune (MIDI 71-76)."""
    notes = [523.25, 587.33, 659.26, 587.33, 523.25, 493.88]
    tune = np.concatenate([harmonic_tone(f, 0.5, harmonics=3) for f in notes])
    bass = np.concatenate([harmonic_tone(f / 4, 0.5, harmonics=4) for f in notes])
    frames = compute_features(tune + bass)
    truth = np.repeat(69 + 12 * np.log2(np.array(notes) / 440), len(frames) // len(notes) + 1)[: len(frames)]
    salience, candidates, amplitude = harmonic_salience(frames, FrontEndConfig(), RECORDING_FMIN_HZ, RECORDING_HARMONIC_DECAY)
    winners = pitches_along(salience, candidates, np.argmax(salience, axis=1), amplitude, FrontEndConfig(), VOICING_DB)
    tracked = recording_pitches(frames, FrontEndConfig())
    assert np.nanmean(np.abs(winners - truth) < 0.5) < 0.2
    assert np.nanmean(np.abs(tracked - truth) < 0.5) > 0.85


def sung_vowel(f0: float, seconds: float) -> np.ndarray:
    """A man's "ah": every harmonic up to 3.5 kHz, shaped by the vowel's three formants (F1 730 Hz)."""
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    for k in range(1, int(3500 / f0)):
        gain = sum(1.0 / (1 + ((k * f0 - centre) / width) ** 2) for centre, width in ((730, 90), (1090, 110), (2440, 170))) + 0.05
        out += gain / np.sqrt(k) * np.sin(2 * np.pi * k * f0 * t)
    return (0.1 * out).astype(np.float32)


def test_recording_tracker_follows_a_sung_lead_over_a_quiet_chord():
    """A pop recording's tune is sung: a voice's energy sits in many harmonics around its formants,
    and with harmonics weighed 0.7^k the tracker took the fourth or third harmonic (+24 / +19
    semitones: the wrong pitch class for the twelfth) for over a third of the frames (session 19).
    Octaves do not matter: recordings are matched octave-folded."""
    midi = np.array([50, 52, 54, 55, 57, 55, 54, 52], float)
    lead = np.concatenate([sung_vowel(440 * 2 ** ((m - 69) / 12), 0.5) for m in midi])
    chord = sum(harmonic_tone(440 * 2 ** ((m - 69) / 12), len(lead) / SR, harmonics=4) for m in (62.0, 66.0, 69.0))
    frames = compute_features(lead / np.abs(lead).max() + 0.25 * chord / np.abs(chord).max())
    truth = np.repeat(midi, len(frames) // len(midi) + 1)[: len(frames)]
    tracked = recording_pitches(frames, FrontEndConfig())
    pitch_class_error = np.abs((tracked - truth + 6.0) % 12.0 - 6.0)
    assert np.nanmean(pitch_class_error < 0.5) > 0.8


def test_smoothest_path_ignores_a_one_frame_stray_but_follows_a_held_change():
    salience = np.full((12, 20), 0.05, np.float32)
    salience[:, 5] = 1.0
    salience[3, 15] = 1.5  # one frame: a chord tone louder than the tune
    salience[8:, 5], salience[8:, 9] = 0.05, 1.0  # the tune moves up and stays
    path = smoothest_path(salience, jump_cost_per_step=0.15, jump_cap_steps=24)
    assert list(path) == [5] * 8 + [9] * 4


def test_voice_tracker_stays_on_the_hum_through_short_louder_beeps():
    """Four 40 ms beeps (a phone, a microwave) louder than the hum: each frame's winner jumps to
    them; the hum's path does not leave the held note for a frame or two."""
    hum = np.concatenate([harmonic_tone(f, 0.6) for f in (220.0, 246.94, 261.63, 246.94)])
    beeps = np.zeros_like(hum)
    for start in (0.3, 0.9, 1.5, 2.1):
        at = int(start * SR)
        beeps[at : at + int(0.04 * SR)] = 4 * harmonic_tone(698.46, 0.04)
    frames = compute_features(hum + beeps)
    winners = frame_pitches(frames, FrontEndConfig(), voicing_db=HUM_VOICING_DB)
    path = voice_pitches(frames, FrontEndConfig())
    assert np.sum(winners > 70) >= 4
    assert np.sum(path > 70) == 0 and np.nanmax(path) < 61


def test_notes_contour_keeps_the_highest_voice_and_the_rests():
    contour = notes_contour(np.array([0.0, 0.0, 1.0]), np.array([0.5, 0.5, 0.5]), np.array([60.0, 67.0, 62.0]), frame_rate=10)
    assert np.all(contour[:5] == 67.0) and np.isnan(contour[5:10]).all() and np.all(contour[10:15] == 62.0)


def test_packed_contours_keep_pitch_and_octave():
    contour = np.array([36.0, 48.0, 60.25, 71.9, 83.05, 100.0], np.float32)
    assert np.allclose(unpack_contour(pack_contour(contour)), contour, atol=1 / 6 + 1e-6)
    assert unpack_contour(pack_contour(np.array([5.0, 130.0]))).tolist() == [20.0, 105.0]  # clipped, never wrapped


def test_dtw_finds_a_passage_in_another_key_octave_and_tempo():
    rng = np.random.default_rng(0)
    songs = [np.repeat(rng.integers(55, 75, 60).astype(np.float32), rng.integers(2, 5, 60)) for _ in range(30)]
    target = songs[7]
    passage = target[40:120]
    slower = passage[np.floor(np.arange(0, len(passage), 0.7)).astype(int)]
    query = slower - 15.0 + rng.normal(0, 0.2, len(slower))  # an octave and a minor third lower, 1.4x slower, off-pitch
    costs = match_contours(query.astype(np.float32), songs)
    assert int(np.argmin(costs)) == 7
    assert costs[7] < 0.5 * np.median(costs)
    assert match_contours(np.zeros(0, np.float32), songs).tolist() == [COST_CAP] * 30


def test_a_passage_far_from_the_songs_middle_is_tried_in_its_own_octave():
    """A hum of a song's low passage: the key shift is placed in the octave of that passage, not of
    the whole song (whose median lies over half an octave above it), or every frame costs the cap."""
    rng = np.random.default_rng(2)
    high = np.repeat(rng.integers(70, 78, 40).astype(np.float32), 3)
    low = np.repeat(rng.integers(55, 62, 20).astype(np.float32), 3)
    song = np.concatenate([high, low, high])  # median ~74, the low passage ~58
    query = (low - 3.0 + rng.normal(0, 0.15, len(low))).astype(np.float32)
    shifts = melody_match.candidate_shifts(query, [song])[0]
    assert np.any(np.abs(shifts - 3.0) < 0.3)
    assert match_contours(query, [song])[0] < 0.4


def test_a_hum_that_sings_its_passage_twice_still_fits_its_song(monkeypatch):
    """People repeat a hook. The full pass's path may go back to where it started for
    ``RETAKE_PENALTY`` (or anywhere for ``JUMP_PENALTY``, as in the first pass): the hum sung twice costs
    what it costs once plus that penalty spread over its values; without jumps the second take
    lies where the song goes on to other notes."""
    rng = np.random.default_rng(3)
    songs = [np.repeat(rng.integers(55, 75, 60).astype(np.float32), rng.integers(2, 5, 60)) for _ in range(30)]
    passage = (songs[11][50:105] - 4.0 + rng.normal(0, 0.15, 55)).astype(np.float32)  # twice: under 120 values, step 2
    twice = np.concatenate([passage, passage])
    once = match_contours(passage, songs)
    repeated = match_contours(twice, songs)
    assert int(np.argmin(repeated)) == 11
    assert repeated[11] <= once[11] + melody_match.RETAKE_PENALTY / len(twice) + 0.02
    assert repeated[11] < 0.4 * np.median(repeated)
    monkeypatch.setattr(melody_match, "JUMP_PENALTY", np.inf)  # no jumps: one contiguous stretch of the song
    monkeypatch.setattr(melody_match, "RETAKE_PENALTY", np.inf)
    assert match_contours(twice, songs)[11] > 2 * repeated[11]
    contiguous = match_contours(passage, songs)
    assert abs(contiguous[11] - once[11]) < 0.02  # the right song's path, sung once, needs no jump
    assert int(np.argmin(contiguous)) == int(np.argmin(once)) == 11


def test_a_retake_goes_back_to_the_passage_not_to_where_the_next_piece_fits():
    """A retake may only start again where the path began, so a hum made of two unrelated pieces
    of a song (which anywhere-jumps let it fit piece by piece, as they let a wrong song fit a hum's
    pieces in their own best places) costs what one contiguous stretch costs when only retakes
    are cheap, while the passage sung twice costs the retake and no more. A skip anywhere keeps
    the path's start, so a hum that skips and then comes back to its first passage pays one skip
    and one retake."""
    rng = np.random.default_rng(5)
    song = np.repeat(rng.integers(55, 75, 80).astype(np.float32), 3)[None]  # (1, 240)
    first, elsewhere = song[0, 30:90], song[0, 150:210]
    shifts = np.zeros((1, 1), np.float32)

    def cost(query: np.ndarray, **kwargs) -> float:
        return float(dtw_costs(query.astype(np.float32), song, shifts, **kwargs)[0])

    pieces = np.concatenate([first, elsewhere])
    retake = np.concatenate([first, first])
    assert cost(pieces, jump_penalty=6.0) <= 6.0 / len(pieces) + 1e-5  # anywhere: the pieces fit for one jump
    assert cost(pieces, jump_penalty=np.inf, retake_penalty=6.0) > 0.5  # no way back but to the first piece's start
    assert cost(retake, jump_penalty=np.inf, retake_penalty=6.0) <= 6.0 / len(retake) + 1e-5
    assert cost(pieces, jump_penalty=20.0, retake_penalty=6.0) <= 20.0 / len(pieces) + 1e-5  # a skip, dearer
    back = np.concatenate([first, elsewhere, first])
    assert cost(back, jump_penalty=20.0, retake_penalty=6.0) <= 26.0 / len(back) + 1e-5  # skip, then retake
    assert cost(back, jump_penalty=20.0, retake_penalty=20.0) > 26.0 / len(back) + 0.05  # two skips cost more
    # Songs abandoned at their limits keep their start columns in step with the rest.
    several = np.concatenate([song, np.roll(song, 40, axis=1), song[:, ::-1]])
    limits = np.array([1.0, 0.05, 0.05])
    exact = dtw_costs(retake.astype(np.float32), several, np.zeros((3, 1), np.float32), retake_penalty=6.0)
    bounded = dtw_costs(retake.astype(np.float32), several, np.zeros((3, 1), np.float32), limits, retake_penalty=6.0)
    assert bounded[0] == exact[0] and np.all(bounded[1:] > limits[1:])
    # A song too short for any path (one value) costs the cap, and its unreachable rows raise nothing.
    short = np.full((2, 240), np.nan, np.float32)
    short[0, 0], short[1] = 60.0, song[0]
    with np.errstate(all="raise"):
        costs = dtw_costs(retake.astype(np.float32), short, np.zeros((2, 1), np.float32), retake_penalty=6.0)
    assert costs[0] == COST_CAP and costs[1] < 0.2


def test_stretched_intervals_undo_a_compressed_hum(monkeypatch):
    """An untrained singer's leaps sung at 0.75 of their width: the stretch brings the cost down."""
    rng = np.random.default_rng(1)
    songs = [np.repeat(rng.integers(55, 75, 60).astype(np.float32), rng.integers(2, 5, 60)) for _ in range(30)]
    passage = songs[3][30:130]
    compressed = (np.median(passage) + 0.75 * (passage - np.median(passage)) - 5.0).astype(np.float32)
    monkeypatch.setattr(melody_match, "INTERVAL_SCALES", (1.0,))
    as_sung = match_contours(compressed, songs)
    monkeypatch.setattr(melody_match, "INTERVAL_SCALES", (1.0, 1.3))
    stretched = match_contours(compressed, songs)
    assert stretched[3] < 0.6 * as_sung[3]
    assert int(np.argmin(stretched)) == 3
    # With every reading matched in full, a song keeps its best: more versions never cost more
    # (within a few thousandths: a song matched beside longer ones may end its path in their
    # padding, at the cap per value, so costs near the cap move slightly with a batch's make-up).
    monkeypatch.setattr(melody_match, "READINGS_REFINED", 1000)
    all_stretched = match_contours(compressed, songs)
    monkeypatch.setattr(melody_match, "INTERVAL_SCALES", (1.0,))
    assert np.all(all_stretched <= match_contours(compressed, songs) + 0.01)


def test_the_coarse_pass_picks_the_reading_that_fits_in_full(monkeypatch):
    """Only each song's best reading of the decimated first pass is matched in full: for the hummed
    song it must be the right key, at a tempo version near the best (this hum, 1.3x as fast, sits
    between two versions, which tie at the coarse resolution), and refining fewer readings can
    never find a lower cost."""
    rng = np.random.default_rng(5)
    songs = [np.repeat(rng.integers(55, 75, 60).astype(np.float32), rng.integers(2, 5, 60)) for _ in range(40)]
    passage = songs[11][40:120]
    faster = passage[np.round(np.arange(0, len(passage), 1.3)).astype(int)]
    query = (faster + 7.0 + rng.normal(0, 0.25, len(faster))).astype(np.float32)
    best_only = match_contours(query, songs)
    monkeypatch.setattr(melody_match, "READINGS_REFINED", 1000)
    every_reading = match_contours(query, songs)
    assert int(np.argmin(best_only)) == 11
    assert every_reading[11] <= best_only[11] < every_reading[11] + 0.15
    assert np.all(best_only >= every_reading - 1e-6)
    assert best_only[11] < 0.5 * np.median(best_only)


def test_long_songs_take_a_coarser_first_pass_and_short_ones_do_not(monkeypatch):
    """Songs of at least ``LONG_SONG_VALUES`` contour values are read at ``LONG_SONG_STEP`` in the
    first pass (session 18): the hummed song must still win, at the cost the usual step finds
    (its best reading is the same), and songs under the threshold are matched as before."""
    rng = np.random.default_rng(6)
    songs = [np.repeat(rng.integers(55, 75, n).astype(np.float32), rng.integers(2, 5, n)) for n in rng.integers(60, 200, 30)]
    passage = songs[17][100:190]
    faster = passage[np.round(np.arange(0, len(passage), 1.2)).astype(int)]
    query = (faster - 5.0 + rng.normal(0, 0.25, len(faster))).astype(np.float32)
    monkeypatch.setattr(melody_match, "LONG_SONG_VALUES", 10**9)
    usual = match_contours(query, songs, batch=8)
    threshold = int(np.median([len(song) for song in songs]))
    monkeypatch.setattr(melody_match, "LONG_SONG_VALUES", threshold)
    first_pass = []  # (hum values, widest song values) of every first-pass DTW call
    real_dtw = melody_match.dtw_costs

    def spy(hum, padded, *args, **kwargs):
        if kwargs.get("per_key"):
            first_pass.append((len(hum), padded.shape[1]))
        return real_dtw(hum, padded, *args, **kwargs)

    batches = []  # (songs, step) of every first-pass batch
    real_first_pass = melody_match.coarse_readings

    def spy_batches(stretched, chunk, *args):
        batches.append((len(chunk), args[-1]))
        return real_first_pass(stretched, chunk, *args)

    monkeypatch.setattr(melody_match, "dtw_costs", spy)
    monkeypatch.setattr(melody_match, "coarse_readings", spy_batches)
    split = match_contours(query, songs, batch=8)
    n_long = sum(len(song) >= threshold for song in songs)
    assert sum(n for n, step in batches if step == melody_match.LONG_SONG_STEP) == n_long  # each song in one batch
    assert sum(n for n, step in batches if step == melody_match.COARSE_STEP) == len(songs) - n_long
    longest = max(len(song) for song in songs)
    as_sung = [hum for hum, width in first_pass if width == round(longest / 3)]  # the longest songs' batch, at 1/3
    assert as_sung and len(query) // 3 <= max(as_sung) <= round(len(query) * 2 / 3)  # hum decimated alike (tempo x0.5-2)
    assert not [width for _, width in first_pass if width == round(longest / 2)]  # not at the usual step
    short = np.array([len(song) < threshold for song in songs])
    np.testing.assert_allclose(split[short], usual[short], atol=0.01)  # batch make-up moves costs near the cap only
    assert len(songs[17]) >= threshold and int(np.argmin(split)) == 17
    assert split[17] == pytest.approx(usual[17], abs=1e-6)
    assert split[17] < 0.5 * np.median(split)


def test_long_hums_take_a_coarser_first_pass_and_shorter_ones_do_not(monkeypatch):
    """A hum longer than 2 x ``COARSE_QUERY_VALUES`` contour values (~16 s) is read at a larger first-pass
    step, so its coarse hum stays ~that long (session 23): the hummed song must still win at the cost
    the usual step finds, and a hum under the threshold keeps ``COARSE_STEP``."""
    rng = np.random.default_rng(7)
    songs = [np.repeat(rng.integers(55, 75, n).astype(np.float32), rng.integers(2, 5, n)) for n in rng.integers(120, 160, 24)]
    steps = []  # the step of every first-pass batch
    real_first_pass = melody_match.coarse_readings

    def spy(stretched, chunk, *args):
        steps.append(args[-1])
        return real_first_pass(stretched, chunk, *args)

    monkeypatch.setattr(melody_match, "coarse_readings", spy)
    shipped = melody_match.COARSE_QUERY_VALUES
    for length, step in ((2 * shipped, melody_match.COARSE_STEP), (3 * shipped, 3)):
        query = (songs[9][30 : 30 + length] + 4.0 + rng.normal(0, 0.25, length)).astype(np.float32)
        monkeypatch.setattr(melody_match, "COARSE_QUERY_VALUES", 10**9)
        usual = match_contours(query, songs, batch=8)
        monkeypatch.setattr(melody_match, "COARSE_QUERY_VALUES", shipped)
        steps.clear()
        coarser = match_contours(query, songs, batch=8)
        assert set(steps) == {step}
        assert int(np.argmin(coarser)) == 9
        assert coarser[9] == pytest.approx(usual[9], abs=1e-6)
        assert coarser[9] < 0.5 * np.median(coarser)


def test_bundle_carries_contours_and_reranking_uses_them(bundle_path, tunes):
    bundle = load_bundle(bundle_path)
    assert bundle.contour_values is not None
    assert all(len(bundle.contour(i)) > 20 for i in range(len(bundle.songs)))
    hum = make_hum(tunes[2], seed=7, transpose=5.0, tempo_factor=0.9)
    with_melody = Recognizer(bundle).recognize_audio(hum)
    without = Recognizer(bundle, search=SearchConfig(rerank=0)).recognize_audio(hum)
    assert with_melody.matches[0].song_id == "song2.mid"
    assert "melody" in with_melody.timings_ms and "melody" not in without.timings_ms
    contour = matching_contour(frame_pitches(compute_features(hum), FrontEndConfig()))
    costs = match_contours(contour, [bundle.contour(i) for i in range(len(bundle.songs))])
    assert int(np.argmin(costs)) == 2  # the hum's own melody is the closest


def random_songs(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.repeat(rng.integers(55, 75, 40).astype(np.float32), rng.integers(2, 5, 40)) for _ in range(n)]


def test_rerank_abandons_only_songs_that_cannot_reach_the_top():
    """The early-abandoning re-rank gives the same top places as matching every song in full."""
    from device.search import EXACT_TOP, SCREEN_NEUTRAL_COST, melody_charge, rerank_by_melody

    songs = random_songs(80, 1)
    query = (songs[50][30:90] + 3.0).astype(np.float32)
    rng = np.random.default_rng(2)
    order = np.arange(80)
    scores = np.sort(rng.uniform(0.3, 0.8, 80))[::-1]
    config = SearchConfig(rerank=80)
    ranked, fused = rerank_by_melody(order, scores, query, lambda s: songs[s], config)
    full = scores - melody_charge(match_contours(query, songs), config.melody_weight, config)
    full -= melody_charge(SCREEN_NEUTRAL_COST, config.screen_weight, config)
    expected = np.argsort(-full, kind="stable")
    assert ranked[0] == 50
    assert ranked[:EXACT_TOP].tolist() == expected[:EXACT_TOP].tolist()
    assert np.allclose(fused[:EXACT_TOP], full[expected[:EXACT_TOP]])


def test_contours_tracked_from_audio_count_folded_and_less():
    """Audio-tracked contours: octave-folded costs at the lower weight, around the neutral charge."""
    from device.search import ESTIMATED_TYPICAL_COST, SCREEN_NEUTRAL_COST, UNKNOWN_MELODY_COST, melody_charge, rerank_by_melody

    songs = random_songs(6, 3)
    query = (songs[4][10:70] - 12.0).astype(np.float32)  # an octave below: folding forgives it
    scores = np.array([0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    estimated = np.ones(6, bool)
    config = SearchConfig()
    ranked, fused = rerank_by_melody(np.arange(6), scores, query, lambda s: songs[s], config, estimated)
    folded = match_contours(query, songs, fold=True)
    unknown = melody_charge(UNKNOWN_MELODY_COST, config.melody_weight, config)  # a tracked melody is charged around it, linearly
    expected = scores - config.melody_weight_estimated * (folded - ESTIMATED_TYPICAL_COST) - unknown
    expected -= melody_charge(SCREEN_NEUTRAL_COST, config.screen_weight, config)  # no screen: every song pays the neutral charge
    assert ranked[0] == 4
    assert np.allclose(fused, np.sort(expected)[::-1])


def test_folded_costs_are_pitch_class_distances():
    """The folded DTW charges the distance to the nearest octave, whatever octave either side is in."""
    from device.melody_match import dtw_costs

    rng = np.random.default_rng(5)
    songs = rng.uniform(40, 90, (3, 50)).astype(np.float32)
    songs[2, 30:] = np.nan  # padding
    shifts = rng.uniform(-20, 20, (3, 4)).astype(np.float32)
    for value in (-13.7, 0.2, 6.0, 29.9):
        query = np.array([value], np.float32)
        diff = shifts[:, :, None] - songs[:, None, :] + value
        expected = np.nanmin(np.minimum(np.abs(diff - 12 * np.round(diff / 12)), COST_CAP), axis=(1, 2))
        np.testing.assert_allclose(dtw_costs(query, songs, shifts, fold=True), expected, atol=1e-4)
    tune = np.repeat(rng.integers(55, 75, 30).astype(np.float32), 3)
    jumpy = tune[10:70] + 12 * rng.integers(-2, 3, 60) + 0.25  # octave errors everywhere, a quarter tone off
    folded = dtw_costs(jumpy, tune[None, :], np.zeros((1, 1), np.float32), fold=True)
    assert np.isclose(folded[0], 0.25, atol=1e-4)
    assert dtw_costs(jumpy, tune[None, :], np.zeros((1, 1), np.float32))[0] > 1.0


def test_melody_charge_weighs_cost_ratios_and_inverts():
    """Closer matches are told apart more finely than poor ones, and the abandon limit inverts the charge."""
    from device.search import cost_for_charge, melody_charge

    config = SearchConfig()
    w = config.melody_weight
    good_gap = melody_charge(0.4, w, config) - melody_charge(0.2, w, config)
    poor_gap = melody_charge(1.4, w, config) - melody_charge(1.2, w, config)
    assert good_gap > 3 * poor_gap
    costs = np.array([0.0, 0.3, 1.0, 2.5])
    assert np.allclose(cost_for_charge(melody_charge(costs, w, config), w, config), costs)
    assert np.all(np.isinf(cost_for_charge(np.zeros(2), 0.0, config)))


def test_key_shifts_of_a_batch_are_each_songs_own():
    """``candidate_shifts`` histograms every song's stretches in one joined array: each song's
    shifts must be what it gets alone, whether it is longer or shorter than the hum."""
    rng = np.random.default_rng(9)
    songs = [np.repeat(rng.integers(50, 80, n).astype(np.float32), rng.integers(1, 4, n)) for n in (5, 12, 40, 90, 200, 33, 1, 64)]
    query = (songs[4][30:110] - 4.0 + rng.normal(0, 0.2, 80)).astype(np.float32)
    together = melody_match.candidate_shifts(query, songs)
    alone = np.concatenate([melody_match.candidate_shifts(query, [song]) for song in songs])
    assert together.shape == (len(songs), melody_match.SHIFTS_TRIED)
    np.testing.assert_array_equal(together, alone)
    assert np.any(np.abs(together[4] - 4.0) < 0.3)  # the hum sits 4 semitones low: +4 is among its shifts
    with pytest.raises(ValueError):
        melody_match.candidate_shifts(query, [songs[0], np.zeros(0, np.float32)])


def test_limits_drop_songs_in_the_first_pass_but_keep_songs_under_them_exact():
    """With limits, a song that cannot get under its limit comes back at or above it (whichever
    pass drops it), and a song under its limit keeps the cost it has without limits."""
    rng = np.random.default_rng(4)
    songs = [np.repeat(rng.integers(55, 75, 60).astype(np.float32), rng.integers(2, 5, 60)) for _ in range(40)]
    query = (songs[17][20:100] - 2.0 + rng.normal(0, 0.2, 80)).astype(np.float32)
    free = match_contours(query, songs)
    limits = np.full(40, 0.6)
    bounded = match_contours(query, songs, limits=limits)
    assert free[17] < 0.6
    assert bounded[17] == pytest.approx(free[17], abs=1e-6)
    others = np.arange(40) != 17
    assert np.all(free[others] > 0.6)
    assert np.all(bounded[others] >= 0.6 - 1e-6)


def test_hum_tracker_does_not_hear_mains_buzz_between_notes():
    """A low hum (A2-E3) with 0.35 s pauses, and 50 Hz mains buzz 15 dB below it (a USB microphone
    on a ground loop): in the pauses the buzz's 100 and 150 Hz harmonics pass for notes, inside the
    hum's range; the hum tracker takes each band's steady floor out first and keeps only the hum."""
    notes_hz = (110.0, 123.47, 130.81, 146.83, 164.81, 146.83, 130.81, 123.47)
    pause = np.zeros(int(0.35 * SR), np.float32)
    hum = np.concatenate([np.concatenate([harmonic_tone(f, 0.45), pause]) for f in notes_hz])
    frames = compute_features(mix_at_snr(hum, mains_buzz(len(hum), np.random.default_rng(0), 50.0), 15.0))
    sung = 69 + 12 * np.log2(np.array(notes_hz) / 440)

    def off_the_tune(values: np.ndarray) -> int:
        return int(np.sum(np.min(np.abs(values[:, None] - sung[None, :]), axis=1) > 0.75))

    raw = frame_pitches(frames, FrontEndConfig(), voicing_db=HUM_VOICING_DB)
    assert off_the_tune(raw[~np.isnan(raw)]) >= 20  # the buzz, heard in the pauses
    contour = hum_contour(frames, FrontEndConfig())
    assert off_the_tune(contour) == 0 and len(contour) >= 30  # ~37 values of the eight notes
    floor_removed = without_noise_floor(frames)
    assert floor_removed.shape == frames.shape and np.all(np.isfinite(floor_removed))


def test_shared_song_stretches_give_the_same_keys():
    """The first pass histograms the songs' stretches once for both interval widths of a hum
    (stretching keeps its length); the keys must be those each reading would find alone."""
    rng = np.random.default_rng(11)
    songs = [np.repeat(rng.integers(55, 75, n).astype(np.float32), 3) for n in (20, 40, 90, 7)]  # one shorter than the hum
    hum = (songs[2][30:90] - 5.0 + rng.normal(0, 0.2, 60)).astype(np.float32)
    shared = melody_match.joined_stretch_histograms(songs, len(hum))
    for scale in (1.0, 1.15):
        stretched = melody_match.stretch_intervals(hum, scale)
        alone = melody_match.candidate_shifts(stretched, songs)
        assert np.array_equal(melody_match.candidate_shifts(stretched, songs, song_stretches=shared), alone)
