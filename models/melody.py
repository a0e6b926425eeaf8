"""Melodies and note events: the corpus loader, MIDI and ABC readers, and the tune split.

Two shapes of data:
- :class:`Melody`: a monophonic tune in beats (quarter notes), as music21's corpus gives it and as
  ``../shared/data/music21-tunes.json.gz`` caches it.
- :class:`NoteEvents`: notes in seconds, possibly polyphonic, ready to be rendered to audio. MIDI and
  ABC files in a user's catalog become this.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.melody_part import Part, tune_part

logger = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi", ".kar")  # .kar: a karaoke file, a standard MIDI file with the lyrics as text events
MUSICXML_SUFFIXES = (".musicxml", ".mxl")  # uncompressed and compressed MusicXML (what MuseScore, Finale, Sibelius export)
MELODY_SUFFIXES = (*MIDI_SUFFIXES, ".abc", *MUSICXML_SUFFIXES)
DEFAULT_TUNE_CACHE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "music21-tunes.json.gz"
DRUM_CHANNEL = 9  # General MIDI channel 10


class MelodyError(ValueError):
    """A melody file that cannot be read or holds no notes."""


@dataclass
class Melody:
    """A monophonic tune; times in quarter notes, pitches as MIDI note numbers."""

    key: str
    title: str
    pitch: np.ndarray
    onset: np.ndarray
    dur: np.ndarray

    def to_events(self, seconds_per_beat: float, transpose: float = 0.0) -> NoteEvents:
        return NoteEvents(
            onset=self.onset * seconds_per_beat,
            dur=self.dur * seconds_per_beat,
            pitch=self.pitch.astype(np.float64) + transpose,
            velocity=np.ones(len(self.pitch)),
        )


@dataclass
class NoteEvents:
    """Notes in seconds. ``pitch`` is fractional MIDI (cents allowed); ``velocity`` in 0..1."""

    onset: np.ndarray
    dur: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    is_tune: np.ndarray | None = None  # per note: it belongs to the part that carries the tune (None: every note does)

    @property
    def end_s(self) -> float:
        return float(np.max(self.onset + self.dur)) if len(self.onset) else 0.0

    def tune(self) -> NoteEvents:
        """Only the notes of the tune (a multi-part MIDI file's melody part; all notes otherwise)."""
        if self.is_tune is None:
            return self
        keep = self.is_tune
        return NoteEvents(self.onset[keep], self.dur[keep], self.pitch[keep], self.velocity[keep])

    def window(self, start_s: float, length_s: float) -> NoteEvents:
        """Notes sounding in [start_s, start_s + length_s), shifted so the window starts at 0."""
        end = start_s + length_s
        keep = (self.onset < end) & (self.onset + self.dur > start_s)
        onset = self.onset[keep] - start_s
        dur = self.dur[keep].copy()
        clip_start = onset < 0
        dur[clip_start] += onset[clip_start]
        onset[clip_start] = 0.0
        is_tune = None if self.is_tune is None else self.is_tune[keep]
        return NoteEvents(onset, dur, self.pitch[keep], self.velocity[keep], is_tune)


def repair_title(title: str) -> str:
    """A title as its collection spelled it. music21 reads the Essen collection's DOS files as
    Latin-1, but they are code page 437, so "Müllerin" arrives as "M\\x81llerin" (363 of the
    cached tunes): a speaker would say, and a catalog list show, "Mllerin". A C1 control
    character (U+0080-U+009F) never belongs in a title, so a title holding one is decoded again as
    CP437; any other is kept as it is."""
    if not any("\x80" <= char <= "\x9f" for char in title):
        return title
    try:
        return title.encode("latin-1").decode("cp437")
    except UnicodeEncodeError:  # not a Latin-1 misreading after all
        return title


def load_tune_cache(path: str | Path = DEFAULT_TUNE_CACHE) -> dict[str, Melody]:
    """Reads the JSON cache of music21's corpus (see ../shared/data/README.md)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raw = json.load(handle)
    return {
        key: Melody(
            key=key,
            title=repair_title(value["title"]),
            pitch=np.asarray(value["pitch"], dtype=np.int16),
            onset=np.asarray(value["onset"], dtype=np.float64),
            dur=np.asarray(value["dur"], dtype=np.float64),
        )
        for key, value in raw.items()
        if len(value["pitch"]) >= 8
    }


def melodies_from_music21_corpus(limit: int | None = None) -> dict[str, Melody]:
    """Builds the same tunes as the cache straight from music21's bundled ABC corpus (slow: ~20 min).

    Used where ../shared/data is absent. Chords keep their top note; ties are merged by music21's
    ``stripTies``; rests are implicit gaps.
    """
    from music21 import corpus

    tunes: dict[str, Melody] = {}
    for path in sorted(corpus.getPaths(fileExtensions=("abc",))):
        path = Path(path)
        try:
            parsed = corpus.parse(str(path))
        except Exception as exc:  # music21 raises many exception types on odd ABC
            logger.warning("skipping %s: %s", path.name, exc)
            continue
        scores = list(parsed.scores) if hasattr(parsed, "scores") and len(parsed.scores) else [parsed]
        for number, score in enumerate(scores, start=1):
            melody = _melody_from_music21_score(score, f"{path.parent.name}/{path.name}#{number}")
            if melody is not None:
                tunes[melody.key] = melody
            if limit is not None and len(tunes) >= limit:
                return tunes
    return tunes


def _melody_from_music21_score(score, key: str) -> Melody | None:
    pitches, onsets, durs = [], [], []
    for element in score.stripTies().flatten().notes:
        pitch = max(p.midi for p in element.pitches) if element.isChord else element.pitch.midi
        pitches.append(pitch)
        onsets.append(float(element.offset))
        durs.append(float(element.quarterLength))
    if len(pitches) < 8:
        return None
    title = repair_title(score.metadata.title) if score.metadata and score.metadata.title else key
    return Melody(key, title, np.asarray(pitches, np.int16), np.asarray(onsets), np.asarray(durs))


def read_midi(path: str | Path) -> NoteEvents:
    """All pitched notes of a MIDI file in seconds (drum channel skipped), tempo map applied.

    A part is what one track plays on one channel (a piano score's two hands are two tracks on
    one channel; a type-0 file keeps all its channels in one track). When several parts play,
    ``is_tune`` marks the notes of the one that carries the tune
    (:func:`models.melody_part.tune_part`): the others are rendered, not matched.
    """
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except Exception as exc:  # mido raises OSError, EOFError, KeyError, ValueError on bad files
        reason = str(exc) or ("the file ends early (truncated?)" if isinstance(exc, EOFError) else type(exc).__name__)
        raise MelodyError(f"{path}: cannot read MIDI ({reason})") from exc
    notes: list[tuple[float, float, int, float, int]] = []  # onset, duration, pitch, velocity, part
    part_of: dict[tuple[int, int], int] = {}  # (track, channel) -> part number
    names: dict[int, str] = {}
    programs: dict[tuple[int, int], int] = {}  # (track, channel) -> first program change
    channel_programs: dict[int, int] = {}  # channel -> first program change in any track (a setup track's)
    try:
        seconds_at = _tempo_map(midi)
        for track_number, track in enumerate(midi.tracks):
            title = " ".join(m.name for m in track if m.type in ("track_name", "instrument_name") and m.name)
            sounding: dict[tuple[int, int], tuple[float, int]] = {}  # (part, note) -> (onset, velocity)
            tick = 0
            for message in track:
                tick += message.time
                if message.type == "program_change":
                    programs.setdefault((track_number, message.channel), message.program)
                    channel_programs.setdefault(message.channel, message.program)
                if message.type not in ("note_on", "note_off") or message.channel == DRUM_CHANNEL:
                    continue
                now = seconds_at(tick)
                part = part_of.setdefault((track_number, message.channel), len(part_of))
                names.setdefault(part, title)
                slot = (part, message.note)
                if message.type == "note_on" and message.velocity > 0:
                    if slot in sounding:
                        _close_note(slot, sounding.pop(slot), now, notes)
                    sounding[slot] = (now, message.velocity)
                elif slot in sounding:
                    _close_note(slot, sounding.pop(slot), now, notes)
            for slot, started in sounding.items():  # notes never released end with their track
                _close_note(slot, started, seconds_at(tick), notes)
    except Exception as exc:
        raise MelodyError(f"{path}: MIDI data is corrupt ({exc})") from exc
    if not notes:
        raise MelodyError(f"{path}: MIDI file holds no pitched notes")
    notes.sort(key=lambda note: note[0])
    onset, dur, pitch, velocity, part = (np.asarray(column, np.float64) for column in zip(*notes))
    events = NoteEvents(onset, dur, pitch, velocity)
    if len(part_of) > 1:
        parts = []
        for key, number in part_of.items():
            mine = part == number
            if mine.any():  # a part whose notes were all too short to keep has none
                program = programs.get(key, channel_programs.get(key[1], 0))
                parts.append(Part(number, names.get(number, ""), program, onset[mine], dur[mine], pitch[mine]))
        if len(parts) > 1:
            events.is_tune = part == tune_part(parts)
    return events


def _tempo_map(midi):
    """``seconds_at(tick)`` for ``midi``: tempo changes in any track apply to all (types 0 and 1)."""
    changes = sorted(
        (tick, message.tempo)
        for track in midi.tracks
        for tick, message in zip(np.cumsum([m.time for m in track]), track)
        if message.type == "set_tempo"
    )
    ticks = [0]
    tempos = [500_000]  # MIDI's default: 120 beats per minute
    for tick, tempo in changes:
        if tick == ticks[-1]:
            tempos[-1] = tempo
        else:
            ticks.append(int(tick))
            tempos.append(tempo)
    ticks_arr = np.asarray(ticks, np.float64)
    seconds_per_tick = np.asarray(tempos, np.float64) / 1e6 / midi.ticks_per_beat
    starts = np.concatenate([[0.0], np.cumsum(np.diff(ticks_arr) * seconds_per_tick[:-1])])

    def seconds_at(tick: int) -> float:
        k = int(np.searchsorted(ticks_arr, tick, side="right")) - 1
        return float(starts[k] + (tick - ticks_arr[k]) * seconds_per_tick[k])

    return seconds_at


def _close_note(slot: tuple[int, int], started: tuple[float, int], now: float, notes: list) -> None:
    part, note = slot
    start, vel = started
    if now - start > 0.01:
        notes.append((start, now - start, note, vel / 127.0, part))


def read_abc(path: str | Path, default_qpm: float = 100.0) -> NoteEvents:
    """The first tune of an ABC file as notes in seconds (its Q: tempo, else ``default_qpm``)."""
    from music21 import converter, tempo

    try:
        parsed = converter.parse(str(path), format="abc")
    except Exception as exc:
        raise MelodyError(f"{path}: cannot parse ABC ({exc})") from exc
    scores = list(parsed.scores) if hasattr(parsed, "scores") and len(parsed.scores) else [parsed]
    if len(scores) > 1:
        logger.warning("%s holds %d tunes; indexing the first", path, len(scores))
    score = scores[0]
    marks = list(score.flatten().getElementsByClass(tempo.MetronomeMark))
    qpm = marks[0].getQuarterBPM() if marks and marks[0].getQuarterBPM() else default_qpm
    melody = _melody_from_music21_score(score, str(path))
    if melody is None:
        raise MelodyError(f"{path}: ABC tune has fewer than 8 notes")
    return melody.to_events(60.0 / qpm)


def read_musicxml(path: str | Path) -> NoteEvents:
    """A MusicXML score's notes in seconds, every part, the tune part marked as in a MIDI file.

    A song score (a voice over a piano, a lead sheet with chords) has several parts, so flattening
    it as an ABC tune is flattened would interleave the accompaniment with the tune. music21 writes
    the score as a MIDI file (one track per part, its tempo marks as the tempo map) and
    :func:`read_midi` reads that, choosing the tune's part by the same rules as for any MIDI file.
    """
    import tempfile

    from music21 import converter

    try:
        score = converter.parse(str(path), format="musicxml")
    except Exception as exc:  # music21 raises many exception types on odd or truncated files
        raise MelodyError(f"{path}: cannot parse MusicXML ({exc})") from exc
    with tempfile.TemporaryDirectory() as folder:
        midi_path = Path(folder) / "score.mid"
        try:
            score.write("midi", fp=str(midi_path))
        except Exception as exc:
            raise MelodyError(f"{path}: MusicXML score cannot be played as notes ({exc})") from exc
        try:
            return read_midi(midi_path)
        except MelodyError as exc:
            raise MelodyError(f"{path}: {str(exc).split(': ', 1)[-1]}") from exc


def read_melody_file(path: str | Path) -> NoteEvents:
    """MIDI (also karaoke ``.kar``), ABC or MusicXML by suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return read_midi(path)
    if suffix == ".abc":
        return read_abc(path)
    if suffix in MUSICXML_SUFFIXES:
        return read_musicxml(path)
    raise MelodyError(f"{path}: not a melody file (expected {', '.join(MELODY_SUFFIXES)})")


def tune_split(melodies: dict[str, Melody], held_out_fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """Splits tune keys into (train, held_out) by a hash of the pitch sequence.

    The hash is of the notes, not the key, so the same tune printed in two books lands on one side:
    held-out tunes are never trained on, not even under another name.
    """
    train, held_out = [], []
    for key, melody in sorted(melodies.items()):
        digest = hashlib.sha256(melody.pitch.astype(np.int16).tobytes()).digest()
        share = int.from_bytes(digest[:4], "big") / 2**32
        (held_out if share < held_out_fraction else train).append(key)
    return train, held_out


TWIN_RUN_INTERVALS = 16  # a run of this many identical melodic intervals makes two tunes twins


def tune_twins(melodies: dict[str, Melody], run: int = TWIN_RUN_INTERVALS) -> dict[str, set[str]]:
    """For each tune key, the other tunes that share a run of ``run`` identical melodic intervals.

    The music21 corpus prints many tunes more than once: a chorale melody under each of its
    harmonisations, a folk tune in two collections, in another key or with a changed ending.
    :func:`tune_split` keeps only exact copies together, so such twins can sit on both sides of
    the split, and a catalog holding both cannot tell a hum of one from the other. Sixteen
    intervals (about four bars) identical in a row, in any key, is the test: on the corpus 29 % of
    the tunes have a twin, and 24 % of the held-out tunes have one among the training tunes.
    """
    owners: dict[bytes, list[str]] = {}
    for key, melody in sorted(melodies.items()):
        intervals = np.diff(np.round(melody.pitch).astype(np.int16))
        grams = {intervals[i : i + run].tobytes() for i in range(len(intervals) - run + 1)}
        for gram in grams:
            owners.setdefault(gram, []).append(key)
    twins: dict[str, set[str]] = {key: set() for key in melodies}
    for keys in owners.values():
        if len(keys) > 1:
            for key in keys:
                twins[key].update(k for k in keys if k != key)
    return twins


def without_twins_of(keys: list[str], others: list[str], twins: dict[str, set[str]]) -> list[str]:
    """``keys`` less those with a twin (``twins``, from :func:`tune_twins`) among ``others``.

    Training on ``tune_split``'s training tunes less the twins of its held-out ones (444 of 11,654
    on the corpus) leaves no held-out tune a transposed or varied copy the encoder has learned
    (``models.gen_data --without-held-out-twins``); an encoder trained so would let the benchmark
    take all its held-out tunes as targets, not only those without a training twin."""
    others_set = set(others)
    return [key for key in keys if not twins.get(key, set()) & others_set]


def write_midi(melody: Melody, path: str | Path, quarters_per_minute: float = 100.0, program: int = 0) -> Path:
    """Writes a monophonic melody as a one-track MIDI file (used for demo catalogs and tests)."""
    import mido

    ticks = 480
    midi = mido.MidiFile(ticks_per_beat=ticks)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("track_name", name=melody.title[:60], time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=int(60e6 / quarters_per_minute), time=0))
    track.append(mido.Message("program_change", program=program, time=0))
    events = []
    for pitch, onset, dur in zip(melody.pitch, melody.onset, melody.dur):
        events.append((round(onset * ticks), 1, int(pitch)))
        events.append((round((onset + dur) * ticks), 0, int(pitch)))
    now = 0
    for tick, is_on, pitch in sorted(events):
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=80 if is_on else 0, time=tick - now))
        now = tick
    midi.save(str(path))
    return Path(path)


@dataclass(frozen=True)
class MidiPart:
    """One part of a multi-part MIDI file to write: a track on its own channel."""

    name: str
    channel: int
    program: int
    notes: NoteEvents


def write_parts_midi(parts: list[MidiPart], path: str | Path) -> Path:
    """Writes parts (times in seconds) as a type-1 MIDI file at 120 beats/min, one track per part
    (for arrangement catalogs in tests and ``benchmarks/midi_melody.py``)."""
    import mido

    ticks = 480
    ticks_per_second = ticks * 2  # 120 beats per minute
    midi = mido.MidiFile(ticks_per_beat=ticks)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)])
    midi.tracks.append(conductor)
    for part in parts:
        track = mido.MidiTrack()
        midi.tracks.append(track)
        if part.name:
            track.append(mido.MetaMessage("track_name", name=part.name, time=0))
        track.append(mido.Message("program_change", channel=part.channel, program=part.program, time=0))
        events = []
        for onset, dur, pitch, vel in zip(part.notes.onset, part.notes.dur, part.notes.pitch, part.notes.velocity):
            key, start = int(round(pitch)), round(onset * ticks_per_second)
            events.append((max(round((onset + dur) * ticks_per_second), start + 1), 0, key, 0))
            events.append((start, 1, key, max(1, min(127, int(vel * 127)))))
        now = 0
        for tick, is_on, key, velocity in sorted(events):  # at one tick, note-offs before note-ons
            kind = "note_on" if is_on else "note_off"
            track.append(mido.Message(kind, channel=part.channel, note=key, velocity=velocity, time=tick - now))
            now = tick
    midi.save(str(path))
    return Path(path)
