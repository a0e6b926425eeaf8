"""Melody files users bring: MIDI (written and read back, karaoke .kar too), ABC and MusicXML, and clear errors for bad ones."""

from __future__ import annotations

import numpy as np
import pytest

from models.melody import (
    Melody,
    MelodyError,
    read_abc,
    read_melody_file,
    read_midi,
    repair_title,
    tune_split,
    tune_twins,
    without_twins_of,
    write_midi,
)
from models.render import render_notes

ABC_TUNE = """X:1
T:Test Tune
M:4/4
L:1/8
Q:1/4=120
K:G
GABc d2 B2 | c2 A2 B2 G2 | GABc d2 g2 | f2 d2 e4 |
"""


def test_midi_round_trip(tmp_path, tunes):
    melody = tunes[0]
    path = write_midi(melody, tmp_path / "t.mid", quarters_per_minute=120)
    events = read_midi(path)
    np.testing.assert_array_equal(events.pitch, melody.pitch)
    np.testing.assert_allclose(events.onset, melody.onset * 0.5, atol=1e-3)
    np.testing.assert_allclose(events.dur, melody.dur * 0.5, atol=1e-3)


def test_abc_file(tmp_path):
    path = tmp_path / "t.abc"
    path.write_text(ABC_TUNE)
    events = read_abc(path)
    assert events.pitch[:4].tolist() == [67, 69, 71, 72]
    np.testing.assert_allclose(events.dur[0], 0.25, atol=1e-6)  # an eighth at 120 quarters/min


def test_rendered_melody_is_audible(tmp_path, tunes):
    audio = render_notes(read_melody_file(write_midi(tunes[1], tmp_path / "t.midi")))
    assert 0.8 < np.abs(audio).max() <= 0.91


@pytest.mark.parametrize("content", [b"", b"MThd\x00\x00\x00\x06garbage", b"not midi at all"])
def test_corrupt_midi(tmp_path, content):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(MelodyError):
        read_midi(path)


def test_a_truncated_midi_file_says_so(tmp_path, tunes):
    """mido's EOFError carries no message; the error must still say what is wrong."""
    whole = write_midi(tunes[1], tmp_path / "whole.mid").read_bytes()
    cut = tmp_path / "cut.mid"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MelodyError, match=r"cut.mid: cannot read MIDI \(the file ends early \(truncated\?\)\)"):
        read_midi(cut)


def test_midi_without_notes(tmp_path):
    import mido

    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)]))
    midi.save(tmp_path / "empty.mid")
    with pytest.raises(MelodyError, match="no pitched notes"):
        read_midi(tmp_path / "empty.mid")


def test_split_is_by_tune_content(tunes):
    copies = {f"{t.key}": t for t in tunes}
    twins = {f"other-book/{t.key}": t for t in tunes}
    train, held = tune_split({**copies, **twins}, held_out_fraction=0.5)
    for tune in tunes:
        assert (tune.key in held) == (f"other-book/{tune.key}" in held)


def test_twins_share_a_run_of_intervals_in_any_key():
    rng = np.random.default_rng(0)
    phrase = np.cumsum(rng.integers(-4, 5, 30)) + 60
    other = np.cumsum(rng.integers(-4, 5, 30)) + 60

    def melody(key: str, pitch: np.ndarray) -> Melody:
        return Melody(key, key, pitch.astype(np.int64), np.arange(len(pitch), dtype=float), np.ones(len(pitch)))

    varied = phrase.copy()
    varied[20:] += 1  # same first 20 intervals, then a changed ending
    short_run = np.concatenate([phrase[:10], np.cumsum(rng.integers(-4, 5, 20)) + 60])  # 9 intervals of a's
    tunes = {
        "a": melody("a", phrase),
        "a-transposed": melody("a-transposed", phrase + 5),
        "a-varied": melody("a-varied", varied),
        "b": melody("b", other),
        "short-run": melody("short-run", short_run),
    }
    twins = tune_twins(tunes)
    assert twins["a"] == {"a-transposed", "a-varied"}
    assert twins["b"] == set()
    assert twins["short-run"] == set()
    # training without the twins of held-out tunes: "a" held out takes its transposed and varied copies with it
    assert without_twins_of(["a-transposed", "a-varied", "b", "short-run"], ["a"], twins) == ["b", "short-run"]
    assert without_twins_of(["a", "a-varied"], ["b"], twins) == ["a", "a-varied"]


def test_titles_misread_from_dos_code_page_437_are_repaired():
    """music21 reads the Essen collection's code-page-437 titles as Latin-1; a title with a C1
    control character is decoded again (what the demo catalog and a spoken answer show), and a
    title that is already right, accents and all, is left alone."""
    assert repair_title("Es war einmal eine M\x81llerin (5-75), S. 121") == "Es war einmal eine Müllerin (5-75), S. 121"
    assert repair_title("Auf Freiersf\x81\xe1en (258), S. 553") == "Auf Freiersfüßen (258), S. 553"
    assert repair_title("Adieu du G\x82n\x82ral Bertrand") == "Adieu du Général Bertrand"
    for right in ("Tá mé 'mo shuí, S. 88", "Dillon's Fancy", "Straße €"):
        assert repair_title(right) == right
    assert repair_title("x\x81€") == "x\x81€"  # not Latin-1 throughout: not a misreading, kept


def musicxml_song(tune: list[str], tempo_qpm: int = 90) -> str:
    """A two-part MusicXML score as notation programs save one: a voice over piano chords
    (one 4/4 bar of the accompaniment per four quarter notes of the tune)."""

    def pitch(name: str) -> str:
        return f"<pitch><step>{name[0]}</step><octave>{name[1]}</octave></pitch>"

    def bars(notes: list[str], chord: bool) -> str:
        out = []
        for bar in range(0, len(notes), 4):
            head = "<attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>"
            head += f'<direction><sound tempo="{tempo_qpm}"/></direction>' if bar == 0 else ""
            if chord:  # C major triad, a whole note, under every bar
                triad = enumerate(["C3", "E3", "G3"])
                body = "".join(f"<note>{'<chord/>' if i else ''}{pitch(n)}<duration>4</duration></note>" for i, n in triad)
            else:
                body = "".join(f"<note>{pitch(n)}<duration>1</duration></note>" for n in notes[bar : bar + 4])
            out.append(f'<measure number="{bar // 4 + 1}">{head if bar == 0 else ""}{body}</measure>')
        return "".join(out)

    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<score-partwise version="3.1"><part-list>'
        '<score-part id="P1"><part-name>Voice</part-name></score-part>'
        '<score-part id="P2"><part-name>Piano</part-name></score-part></part-list>'
        f'<part id="P1">{bars(tune, False)}</part><part id="P2">{bars(tune, True)}</part></score-partwise>'
    )


SCALE_TUNE = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "B4", "A4", "G4", "F4", "E4", "D4", "C4", "D4"]


def test_musicxml_song_score_gives_its_voice_as_the_tune(tmp_path):
    """A voice over piano chords: every note is rendered, the voice's notes are the tune, at the score's tempo."""
    path = tmp_path / "song.musicxml"
    path.write_text(musicxml_song(SCALE_TUNE, tempo_qpm=90))
    events = read_melody_file(path)
    assert events.is_tune is not None and (~events.is_tune).sum() == 12  # four bars of three-note chords
    tune = events.tune()
    assert tune.pitch.tolist() == [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 62]
    np.testing.assert_allclose(np.diff(tune.onset), 60 / 90, atol=1e-3)  # quarters at 90 per minute


def test_compressed_musicxml_and_karaoke_midi_are_melody_files(tmp_path, tunes):
    import zipfile

    packed = tmp_path / "song.mxl"
    with zipfile.ZipFile(packed, "w") as archive:  # .mxl: the score inside a zip with a container file naming it
        container = '<?xml version="1.0"?><container><rootfiles><rootfile full-path="score.xml"/></rootfiles></container>'
        archive.writestr("META-INF/container.xml", container)
        archive.writestr("score.xml", musicxml_song(SCALE_TUNE))
    assert read_melody_file(packed).tune().pitch[:3].tolist() == [60, 62, 64]
    karaoke = write_midi(tunes[0], tmp_path / "song.kar", quarters_per_minute=120)
    np.testing.assert_array_equal(read_melody_file(karaoke).pitch, tunes[0].pitch)


CORRUPT_SCORES = [("cut.musicxml", b"<score-partwise><part id='P1'>"), ("bad.mxl", b"PK\x03\x04garbage"), ("empty.mxl", b"")]


@pytest.mark.parametrize(("name", "content"), CORRUPT_SCORES)
def test_a_corrupt_musicxml_file_gets_a_clear_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MelodyError, match=rf"{name}: cannot parse MusicXML"):
        read_melody_file(path)
