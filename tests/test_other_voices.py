"""Festival and a GM soundfont sing hums at the pitches asked for (the benchmark's other voices)."""

from __future__ import annotations

import numpy as np
import pytest

from device.frontend import FrontEndConfig, compute_features
from device.pitch import frame_pitches
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


@needs("soundfont")
def test_training_shards_can_be_sung_by_other_voices(tmp_path):
    # The encoder must hear more than one voice (models.gen_data --singers); a shard of one singer
    # draws nothing for the choice, so the shards made before singers existed are reproduced.
    import gzip
    import json

    from models.dataset import generate_shard

    cache = tmp_path / "tunes.json.gz"  # two small tunes in the corpus cache's format
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 62]
    tunes = {
        f"tune{k}": {"title": f"tune {k}", "pitch": [p + k for p in scale], "onset": list(range(16)), "dur": [1.0] * 16} for k in (0, 3)
    }
    with gzip.open(cache, "wt", encoding="utf-8") as handle:
        json.dump(tunes, handle)
    keys = sorted(tunes)
    ours = np.load(generate_shard(tmp_path / "synth.npz", keys, 2, seed=3, cache=cache))
    again = np.load(generate_shard(tmp_path / "synth_again.npz", keys, 2, seed=3, cache=cache, singers=("synth",)))
    other = np.load(generate_shard(tmp_path / "soundfont.npz", keys, 2, seed=3, cache=cache, singers=("soundfont",)))
    np.testing.assert_array_equal(ours["hum"], again["hum"])
    # The first pair: same passage and recording (drawn before the hum), sung by another voice.
    assert ours["tune"][0] == other["tune"][0]
    np.testing.assert_array_equal(ours["recording"][0], other["recording"][0])
    assert np.abs(ours["hum"][0].astype(np.float32) - other["hum"][0].astype(np.float32)).mean() > 0.5


def test_a_festival_hum_may_need_the_soundfont_too():
    # Festival cannot whistle: a run with Festival's hums must find both tools before it starts.
    assert other_voices.tools_for("festival") == ("festival", "soundfont")
    assert other_voices.tools_for("soundfont") == ("soundfont",)
    assert other_voices.tools_for("synth") == ()
    with pytest.raises(ValueError, match="unknown singer"):
        other_voices.missing_tools(["synth", "choir"])
