"""Festival and a GM soundfont sing hums at the pitches asked for (the benchmark's other voices)."""

from __future__ import annotations

import numpy as np
import pytest

from device.frontend import FrontEndConfig, compute_features
from device.pitch import frame_pitches, recording_pitches
from models import dsp, other_voices
from models.hum import render_hum
from models.melody import Melody, NoteEvents

CONFIG = FrontEndConfig()


def three_notes(first: float) -> NoteEvents:
    """Three half-second notes a whole tone apart, with a short gap after each."""
    return NoteEvents(np.array([0.2, 0.8, 1.4]), np.full(3, 0.5), np.array([first, first + 2.0, first + 4.0]), np.ones(3))


def sung_pitches(audio: np.ndarray, events: NoteEvents) -> np.ndarray:
    """Median tracked pitch over the middle of each note."""
    pitches = frame_pitches(compute_features(audio, CONFIG), CONFIG)
    out = []
    for onset, dur in zip(events.onset, events.dur):
        a, b = int((onset + 0.15) * CONFIG.frame_rate), int((onset + dur - 0.1) * CONFIG.frame_rate)
        out.append(np.nanmedian(pitches[a:b]))
    return np.asarray(out)


def needs(singer: str):
    return pytest.mark.skipif(not other_voices.available(singer), reason=f"{singer} is not installed")


@needs("festival")
@pytest.mark.parametrize("style", ["hum", "la", "da", "doo"])
def test_festival_sings_each_note_at_its_pitch(style):
    events = three_notes(50.3)
    audio = other_voices.sing(events, style, 2.5, "festival", np.random.default_rng(0))
    assert audio.dtype == np.float32 and len(audio) == int(2.5 * dsp.SR)
    np.testing.assert_allclose(sung_pitches(audio, events), events.pitch, atol=0.4)


@needs("festival")
def test_festival_sings_a_high_tune_an_octave_lower_instead_of_crashing():
    # Festival's voice segfaulted on a benchmark hum around 580 Hz (MIDI 74).
    events = three_notes(73.0)
    audio = other_voices.sing(events, "da", 2.5, "festival", np.random.default_rng(0))
    np.testing.assert_allclose(sung_pitches(audio, events), events.pitch - 12.0, atol=0.4)


@needs("soundfont")
@pytest.mark.parametrize("style", ["la", "whistle"])
def test_soundfont_plays_fractional_pitches_through_pitch_bend(style):
    # The samples are not all tuned to the cent (the choir sits up to ~0.4 flat), so the bend is
    # checked against the same notes unbent.
    first = 60.0 if style == "la" else 80.0
    plain, bent = three_notes(first), three_notes(first + 0.4)
    heard = [sung_pitches(other_voices.sing(e, style, 2.5, "soundfont", np.random.default_rng(1)), e) for e in (plain, bent)]
    np.testing.assert_allclose(heard[0], plain.pitch, atol=0.5)
    np.testing.assert_allclose(heard[1] - heard[0], 0.4, atol=0.15)


@needs("soundfont")
def test_no_notes_gives_silence_of_the_asked_length():
    empty = NoteEvents(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    audio = other_voices.sing(empty, "la", 1.0, "soundfont", np.random.default_rng(0))
    assert len(audio) == dsp.SR and not np.any(audio)


@needs("festival")
def test_render_hum_records_who_sang():
    tune = Melody("t", "t", np.array([60, 62, 64, 65, 67, 65, 64, 62], np.int16), np.arange(8.0), np.ones(8))
    audio, conditions = render_hum(tune, 0.4, 0.0, 3.0, np.random.default_rng(3), singer="festival")
    assert conditions.singer == "festival"
    assert len(audio) == 3 * dsp.SR and np.max(np.abs(audio)) > 0.01


def test_unknown_singer_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown singer"):
        other_voices.available("elvis")


SCALE = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 62]  # the small tunes of the training-shard tests


def write_scale_tunes(path, shifts) -> list[str]:
    """A tune cache in the corpus cache's format (models.melody.load_tune_cache) holding ``SCALE``
    transposed by each of ``shifts``, one beat a note; returns the tune keys, sorted."""
    import gzip
    import json

    tunes = {
        f"tune{k}": {"title": f"tune {k}", "pitch": [p + k for p in SCALE], "onset": list(range(16)), "dur": [1.0] * 16} for k in shifts
    }
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(tunes, handle)
    return sorted(tunes)


@needs("soundfont")
def test_training_shards_can_be_sung_by_other_voices(tmp_path):
    # The encoder must hear more than one voice (models.gen_data --singers); a shard of one singer
    # draws nothing for the choice, so the shards made before singers existed are reproduced.
    from models.dataset import generate_shard

    cache = tmp_path / "tunes.json.gz"
    keys = write_scale_tunes(cache, (0, 3))
    ours = np.load(generate_shard(tmp_path / "synth.npz", keys, 2, seed=3, cache=cache))
    again = np.load(generate_shard(tmp_path / "synth_again.npz", keys, 2, seed=3, cache=cache, singers=("synth",)))
    other = np.load(generate_shard(tmp_path / "soundfont.npz", keys, 2, seed=3, cache=cache, singers=("soundfont",)))
    np.testing.assert_array_equal(ours["hum"], again["hum"])
    # The first pair: same passage and recording (drawn before the hum), sung by another voice.
    assert ours["tune"][0] == other["tune"][0]
    np.testing.assert_array_equal(ours["recording"][0], other["recording"][0])
    assert np.abs(ours["hum"][0].astype(np.float32) - other["hum"][0].astype(np.float32)).mean() > 0.5


@needs("festival")
@needs("soundfont")
def test_training_recordings_can_have_a_sung_lead(tmp_path):
    # models.gen_data --leads: a pair's "recording" may carry its tune sung (as most songs people
    # hum do); shards of instrument leads alone draw nothing for the choice and stay reproducible.
    from models.dataset import generate_shard

    cache = tmp_path / "tunes.json.gz"
    write_scale_tunes(cache, (0,))
    plain = np.load(generate_shard(tmp_path / "plain.npz", ["tune0"], 2, seed=4, cache=cache))
    instrument = np.load(generate_shard(tmp_path / "instrument.npz", ["tune0"], 2, seed=4, cache=cache, leads=("instrument",)))
    sung = np.load(generate_shard(tmp_path / "sung.npz", ["tune0"], 2, seed=4, cache=cache, leads=("sung",)))
    np.testing.assert_array_equal(plain["recording"], instrument["recording"])
    assert np.abs(plain["recording"][0].astype(np.float32) - sung["recording"][0].astype(np.float32)).mean() > 0.5
    for features in sung["recording"].astype(np.float32):  # a tune in some key is heard: the scale's notes, transposed
        pitches = recording_pitches(features, CONFIG)
        voiced = pitches[np.isfinite(pitches)]
        assert len(voiced) > 0.3 * len(pitches)
        distance = [np.abs((voiced[:, None] - np.array(SCALE)[None, :] - k + 6.0) % 12.0 - 6.0).min(axis=1) for k in range(12)]
        assert max(np.mean(d < 0.75) for d in distance) > 0.7


def test_a_festival_hum_may_need_the_soundfont_too():
    # Festival cannot whistle: a run with Festival's hums must find both tools before it starts.
    assert other_voices.tools_for("festival") == ("festival", "soundfont")
    assert other_voices.tools_for("soundfont") == ("soundfont",)
    assert other_voices.tools_for("synth") == ()
    with pytest.raises(ValueError, match="unknown singer"):
        other_voices.missing_tools(["synth", "choir"])


def test_an_arrangement_takes_a_lead_rendered_elsewhere():
    # A pop recording's lead is a singer (benchmark --render sung): the arrangement must carry the
    # given lead, trimmed or padded to the song's length, with chords, bass and drums around it.
    from models.render import render_arrangement

    tune = three_notes(69.0)
    length_s = 2.5
    lead = np.sin(2 * np.pi * 440.0 * np.arange(int(1.7 * dsp.SR)) / dsp.SR).astype(np.float32)  # shorter than the song
    audio = render_arrangement(tune, 0.5, np.random.default_rng(0), length_s, lead=lead)
    assert audio.dtype == np.float32 and len(audio) == int(length_s * dsp.SR)
    pitches = recording_pitches(compute_features(audio, CONFIG), CONFIG)
    held = pitches[int(0.3 * CONFIG.frame_rate) : int(1.5 * CONFIG.frame_rate)]
    assert np.nanmedian(np.abs(held - 69.0)) < 0.5  # the sine's A4, not the instrument the tune would have drawn


@needs("festival")
@needs("soundfont")
def test_benchmark_sung_catalog_song_carries_the_tune():
    from benchmarks.accuracy import render_song

    tune = Melody("t", "t", np.array([60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72], np.int16), np.arange(12.0), np.ones(12))
    for seed in (0, 1):  # these streams draw Festival's "la" and a soundfont voice's "la"
        audio, events = render_song(tune, "sung", np.random.default_rng(seed))
        pitches = recording_pitches(compute_features(audio, CONFIG), CONFIG)
        middles = [int((onset + 0.5 * dur) * CONFIG.frame_rate) for onset, dur in zip(events.onset, events.dur)]
        pitch_class_error = np.abs((pitches[middles] - events.pitch + 6.0) % 12.0 - 6.0)  # Festival may sing an octave lower
        assert np.mean(pitch_class_error < 0.75) >= 0.75, (seed, pitch_class_error)
