"""Words said before or after a hum are left out (device/talk.py), and only they."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from device.audio_io import read_audio
from device.bundle import load_bundle
from device.recognizer import Recognizer
from device.talk import MIN_HUM_VOICED_FRAMES, hum_span, in_held_notes
from device.windows import stretched_length, window_starts
from tests.conftest import SR, make_hum

DEMO = Path(__file__).resolve().parents[1] / "demo"


def speech_pitches(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Per-frame pitch (25 frames/s) of talk: syllables of 3-6 frames gliding 1-4 semitones each,
    a frame or two unvoiced between them (consonants)."""
    out: list[float] = []
    level = 50.0
    while len(out) < seconds * 25:
        n = int(rng.integers(3, 7))
        glide = rng.uniform(1, 4) * rng.choice([-1, 1])
        out += list(level + np.linspace(0, glide, n))
        level += rng.normal(0, 1)
        out += [np.nan] * int(rng.integers(1, 3))
    return np.asarray(out, np.float64)


def hum_pitches(rng: np.random.Generator, seconds: float, vibrato: float = 0.05) -> np.ndarray:
    """Per-frame pitch of a hum: notes held 5-12 frames, ``vibrato`` semitones of jitter."""
    out: list[float] = []
    while len(out) < seconds * 25:
        note = 55 + rng.integers(-5, 6)
        n = int(rng.integers(5, 13))
        out += list(note + vibrato * rng.standard_normal(n))
    return np.asarray(out, np.float64)


def gliding_voice(seconds: float) -> np.ndarray:
    """Audio of a voice gliding like speech: five harmonics around 130 Hz swinging +-3 semitones,
    broken into syllables four times a second."""
    t = np.arange(int(seconds * SR)) / SR
    glide = 130 * 2 ** (3 * np.sin(2 * np.pi * 2.5 * t) / 12)
    syllables = (np.sin(2 * np.pi * 4 * t) > -0.3).astype(np.float32)
    return 0.3 * syllables * sum(np.sin(2 * np.pi * k * np.cumsum(glide) / SR) / k for k in range(1, 6))


def pause(frames: int = 12) -> np.ndarray:
    return np.full(frames, np.nan)


def test_held_notes_are_found_and_glides_are_not():
    held = in_held_notes(np.concatenate([np.full(8, 60.0), np.linspace(60, 66, 8), [np.nan] * 3, np.full(4, 62.0)]))
    assert held[:8].all()
    assert not held[10:14].any()  # a glide of 6 semitones in 8 frames
    assert not held[-7:].any()  # 4 frames are not a held note, and unvoiced frames never are
    assert not in_held_notes(np.full(3, 60.0)).any()


def test_words_before_and_after_a_hum_are_left_out():
    rng = np.random.default_rng(0)
    before, hum, after = speech_pitches(rng, 1.5), hum_pitches(rng, 6.0), speech_pitches(rng, 1.2)
    pitches = np.concatenate([before, pause(), hum, pause(), after])
    first, end = hum_span(pitches)
    hum_start = len(before) + 12
    assert len(before) <= first <= hum_start  # cut inside the pause
    assert hum_start + len(hum) <= end <= hum_start + len(hum) + 12
    only_before = np.concatenate([before, pause(), hum])
    assert hum_span(only_before) == (first, len(only_before))


def test_a_hum_without_words_is_left_whole():
    rng = np.random.default_rng(1)
    for pitches in (
        hum_pitches(rng, 8.0),
        np.concatenate([hum_pitches(rng, 2.0), pause(15), hum_pitches(rng, 5.0)]),  # a breath between phrases
        np.concatenate([pause(10), hum_pitches(rng, 6.0), pause(10)]),
    ):
        assert hum_span(pitches) == (0, len(pitches))


def test_words_are_kept_when_nothing_tells_them_from_the_hum():
    rng = np.random.default_rng(2)
    talk, hum = speech_pitches(rng, 1.5), hum_pitches(rng, 6.0)
    # No pause between the words and the hum (or a TV filling it): nowhere to cut.
    joined = np.concatenate([talk, hum])
    assert hum_span(joined) == (0, len(joined))
    # A singer whose every note wobbles like speech: compared with their own hum, nothing stands out.
    wobbly = np.concatenate([hum_pitches(rng, 1.5, vibrato=0.6), pause(), hum_pitches(rng, 6.0, vibrato=0.6)])
    assert hum_span(wobbly) == (0, len(wobbly))
    # Too little would remain to hum a tune.
    short = np.concatenate([talk, pause(), hum[: MIN_HUM_VOICED_FRAMES - 10]])
    assert hum_span(short) == (0, len(short))
    # Most of a long query being speech-like is not "a few words".
    long_talk = np.concatenate([speech_pitches(rng, 6.0), pause(), hum])
    assert hum_span(long_talk) == (0, len(long_talk))


def festival_phrase(text: str, tmp_path: Path) -> np.ndarray:
    if shutil.which("text2wave") is None:
        pytest.skip("Festival (text2wave) is not installed")
    script, wav = tmp_path / "say.txt", tmp_path / "say.wav"
    script.write_text(text, encoding="utf-8")
    subprocess.run(["text2wave", str(script), "-o", str(wav)], check=True, capture_output=True, timeout=120)
    return read_audio(wav, SR)


def test_the_recognizer_leaves_out_words_spoken_before_a_demo_hum(tmp_path):
    """A person says "it goes like this" and hums: the query's windows and contour start in the
    pause after the words, and the demo hum is named as it is without them."""
    bundle = load_bundle(DEMO / "demo.humbundle")
    recognizer = Recognizer(bundle)
    hum = read_audio(DEMO / "hums" / "hum2-hum.flac", SR)
    words = festival_phrase("It goes like this.", tmp_path)
    words = words * (np.sqrt(np.mean(hum**2)) / np.sqrt(np.mean(words**2)))
    gap = 0.001 * np.random.default_rng(3).standard_normal(int(0.6 * SR)).astype(np.float32)
    spoken = np.concatenate([words, gap, hum]).astype(np.float32)

    alone = recognizer.recognize_audio(hum)
    query = recognizer.start_query()
    query.push(spoken)
    answer = recognizer.answer(query)
    first, end = query.hum_frames
    words_end, hum_start = len(words) / SR * 25, (len(words) + len(gap)) / SR * 25
    assert words_end - 2 <= first <= hum_start + 2
    assert len(query.used_frames) == end - first
    assert answer.matches[0].song_id == alone.matches[0].song_id
    assert answer.timings_ms["talk"] > 0


def test_windows_of_a_trimmed_query_lie_in_the_hum_and_streaming_changes_nothing(bundle_path, tunes):
    """Every window used reads only frames after the words; pushing the audio in pieces (as a
    capture does) gives the same embeddings as pushing it at once."""
    recognizer = Recognizer(load_bundle(bundle_path))
    rng = np.random.default_rng(4)
    talk = gliding_voice(1.6)
    gap = 0.002 * rng.standard_normal(int(0.6 * SR))
    hum = make_hum(tunes[2], seed=7, length_s=8.0)
    audio = np.concatenate([talk, gap, hum / np.abs(hum).max() * 0.5]).astype(np.float32)

    whole = recognizer.start_query()
    whole.push(audio)
    per_scale = whole.finish()
    first, end = whole.hum_frames
    assert first > 0, "the gliding voice was not left out"
    for factor, vectors in zip(recognizer.search.tempo_scales, per_scale):
        n_out = stretched_length(end, factor)
        lowest = math.ceil(first * factor)
        length = recognizer.window_config.length
        if n_out - lowest < length:  # shorter than a window at this tempo: one padded window of the hum
            assert len(vectors) == 1
            continue
        expected = [s for s in window_starts(n_out, length, recognizer.window_config.query_hop) if s >= lowest]
        if not expected or expected[-1] != n_out - length:
            expected.append(n_out - length)
        assert len(vectors) == len(expected)

    chunked = recognizer.start_query()
    for piece in np.array_split(audio, 37):
        chunked.push(piece)
    for a, b in zip(per_scale, chunked.finish()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert chunked.hum_frames == (first, end)

    untrimmed = Recognizer(load_bundle(bundle_path), search=type(recognizer.search)(trim_talk=False)).start_query()
    untrimmed.push(audio)
    untrimmed.finish()
    assert untrimmed.hum_frames[0] == 0 and len(untrimmed.used_frames) > end - first


def test_the_melody_stage_reuses_the_pitches_only_when_nothing_was_left_out(bundle_path, tunes):
    """An untrimmed query hands its tracked pitches on (one tracker pass, the same contour); a
    trimmed one does not (its contour is tracked on the hum alone, as before)."""
    from device.pitch import hum_contour, hum_contour_of

    recognizer = Recognizer(load_bundle(bundle_path))
    plain = recognizer.start_query()
    plain.push(make_hum(tunes[4], seed=9, length_s=7.0))
    plain.finish()
    assert plain.hum_frames == (0, len(plain.used_frames)) and plain.used_pitches is not None
    np.testing.assert_array_equal(hum_contour_of(plain.used_pitches), hum_contour(plain.used_frames, recognizer.frontend_config))

    talk = gliding_voice(1.6)
    hum = make_hum(tunes[2], seed=7, length_s=8.0)
    trimmed = recognizer.start_query()
    trimmed.push(np.concatenate([talk, np.zeros(int(0.6 * SR)), hum / np.abs(hum).max() * 0.5]).astype(np.float32))
    trimmed.finish()
    assert trimmed.hum_frames[0] > 0 and trimmed.used_pitches is None
