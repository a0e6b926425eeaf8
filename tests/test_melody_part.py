"""Multi-part MIDI files: the contour the index builder matches is the tune's, whatever sits above it."""

from __future__ import annotations

import numpy as np

from device.frontend import FrontEndConfig
from device.pitch import matching_contour, notes_contour
from models.melody import MidiPart, NoteEvents, read_midi, write_midi, write_parts_midi
from models.melody_part import Part, coverage, polyphony, rhythm_variety, tune_part
from models.render import chord_track


def pad_above(tune: NoteEvents) -> NoteEvents:
    """chord_track's block chords lifted an octave above the tune's median: what a skyline would take."""
    chords, _ = chord_track(tune, 2.0, np.random.default_rng(0))
    lift = 12 * np.ceil((np.median(tune.pitch) + 3 - np.median(chords.pitch)) / 12)
    return NoteEvents(chords.onset, chords.dur, chords.pitch + lift, chords.velocity)


def test_contour_of_an_arrangement_is_the_tunes(tmp_path, tunes):
    from device.encoder_runtime import OnnxEncoder
    from device.windows import WindowConfig
    from index_builder.cli import DEFAULT_MODEL
    from index_builder.embed import embed_song

    tune = tunes[0].to_events(0.5)
    pad = pad_above(tune)
    _, bass = chord_track(tune, 2.0, np.random.default_rng(0))
    parts = [
        MidiPart("", 3, 89, pad),  # unnamed pad first, above the tune
        MidiPart("", 5, 33, bass),
        MidiPart("", 0, 0, tune),  # the tune: unnamed, piano, last
    ]
    path = write_parts_midi(parts, tmp_path / "song.mid")
    notes = read_midi(path)
    assert len(notes.onset) == len(tune.onset) + len(pad.onset) + len(bass.onset)  # every part is rendered
    chosen = notes.tune()
    np.testing.assert_array_equal(chosen.pitch, tune.pitch)
    np.testing.assert_allclose(chosen.onset, tune.onset, atol=2e-3)
    rate = FrontEndConfig().frame_rate
    skyline = notes_contour(notes.onset, notes.dur, notes.pitch, rate)
    truth = notes_contour(tune.onset, tune.dur, tune.pitch, rate)
    sounding = ~np.isnan(truth)
    skyline = skyline[: len(truth)]  # the pad's last chord outlasts the tune
    assert np.mean(np.abs(skyline[sounding] - truth[sounding]) < 0.5) < 0.5  # the rule this replaced
    song = embed_song(path, OnnxEncoder(DEFAULT_MODEL.read_bytes(), threads=1), FrontEndConfig(), WindowConfig())
    np.testing.assert_allclose(song.contour, matching_contour(truth), atol=1e-5)


def test_a_track_named_for_the_tune_wins_and_one_part_needs_no_choice(tmp_path, tunes):
    tune = tunes[1].to_events(0.4)
    second = NoteEvents(tune.onset, tune.dur, tune.pitch + 4, tune.velocity)  # a voice above, same rhythm
    unnamed = read_midi(write_parts_midi([MidiPart("", 0, 0, tune), MidiPart("", 1, 0, second)], tmp_path / "a.mid"))
    np.testing.assert_array_equal(unnamed.tune().pitch, second.pitch)  # nothing said: the higher voice
    named = read_midi(write_parts_midi([MidiPart("Lead vocal", 0, 0, tune), MidiPart("", 1, 0, second)], tmp_path / "b.mid"))
    np.testing.assert_array_equal(named.tune().pitch, tune.pitch)
    single = read_midi(write_midi(tunes[1], tmp_path / "c.mid"))
    assert single.is_tune is None and single.tune() is single


def test_part_features():
    onset = np.arange(8, dtype=float)
    block = Part(0, "", 0, np.repeat(onset, 3), np.full(24, 1.0), np.tile([60.0, 64.0, 67.0], 8))
    line = Part(1, "", 0, onset, np.full(8, 0.5), np.full(8, 72.0))
    assert polyphony(block) > 0.6 and polyphony(line) == 0.0
    assert np.isclose(coverage(line, 8.0), 0.5) and np.isclose(coverage(block, 8.0), 1.0)
    assert rhythm_variety(line) == 0.0
    varied = Part(2, "", 0, np.array([0, 1, 1.5, 2, 4, 4.25, 4.5, 6.0]), np.full(8, 0.2), np.full(8, 70.0))
    assert rhythm_variety(varied) > 0.3
    bass = Part(3, "", 33, onset, np.full(8, 0.9), np.full(8, 40.0))
    assert tune_part([block, bass, line]) == 1


def test_two_tracks_on_one_channel_are_two_parts(tmp_path, tunes):
    """A piano score's hands: both tracks on channel 0, block chords above the tune in one of them."""
    tune = tunes[2].to_events(0.45)
    parts = [MidiPart("", 0, 0, pad_above(tune)), MidiPart("", 0, 0, tune)]
    notes = read_midi(write_parts_midi(parts, tmp_path / "score.mid"))
    np.testing.assert_array_equal(notes.tune().pitch, tune.pitch)


def test_tempo_changes_in_the_conductor_track_apply_to_every_track(tmp_path, tunes):
    import mido

    path = write_parts_midi([MidiPart("", 0, 0, tunes[0].to_events(0.5)), MidiPart("", 1, 0, tunes[1].to_events(0.5))], tmp_path / "t.mid")
    midi = mido.MidiFile(path)
    midi.tracks[0] = mido.MidiTrack(
        [mido.MetaMessage("set_tempo", tempo=500_000, time=0), mido.MetaMessage("set_tempo", tempo=800_000, time=1920)]
    )
    midi.save(path)
    now, expected = 0.0, []
    for message in midi:  # mido's own merged playback times
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            expected.append(now)
    notes = read_midi(path)
    np.testing.assert_allclose(np.sort(notes.onset), np.sort(expected), atol=1e-6)
