"""One song file -> its window embeddings and melody contour, with the device's own front end and encoder.

Audio files are decoded and converted by :mod:`device.audio_io`; melody files (MIDI, ABC,
MusicXML) are rendered to audio first with a fixed instrument and seed, so a catalog renders
identically on every build, and their tune is also sung by a fixed synthetic voice
(:func:`with_sung_template`). The melody contour of a melody file comes from its notes (exact); that of an audio
file from the pitch tracker that reads hums (:mod:`device.pitch`) set for recordings (candidates
above the bass register), which follows the lead line of a melody-dominated recording and is
noisier in a dense mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.audio_io import audio_suffixes, check_not_silent, read_audio
from device.encoder_runtime import Encoder
from device.frontend import FrontEndConfig, compute_features
from device.pitch import matching_contour, notes_contour, recording_pitches
from device.windows import WindowConfig, cut_windows
from models.melody import NoteEvents, read_melody_file
from models.render import CATALOG_INSTRUMENT, render_notes

RENDER_SEED = 1234
# Part of the embedding-cache key: bump when contours are computed differently
# (3: a multi-part MIDI file's contour is its tune part's, not the skyline over all parts;
# 4: audio is tracked by device.pitch.recording_pitches, above the bass;
# 5: that tracker favours the top voice and follows a Viterbi path;
# 6: its harmonics decay by 0.9 instead of 0.7, for sung leads).
CONTOUR_VERSION = 6
# A melody file's song also gets the windows of its tune sung: our hum synthesizer's voice on "la",
# without errors or room, at a median of MIDI 57 (a voice's register), a fixed seed. The encoder
# then compares a hum with a voice singing the tune as well as with the tune on an instrument, and
# a song keeps its best window either way. Session 29, `benchmarks.accuracy` (its catalogs "from
# notes" get the same templates; top-1 / top-10 / MRR): the embedding alone on careful hums 0.465 /
# 0.760 / 0.552 -> 0.530 / 0.785 / 0.616 (seed 0) and 0.400 / 0.650 / 0.488 -> 0.465 / 0.695 /
# 0.537 (seed 1); the whole system 0.905 / 0.970 / 0.930 -> 0.915 / 0.965 / 0.936 and 0.850 /
# 0.905 / 0.871 -> 0.845 / 0.905 / 0.867. Offline (templates seeded per song), hums by Festival
# and a soundfont, voices the templates are not: embedding alone 0.375 -> 0.417 and 0.322 -> 0.373
# top-1 (seed 0), 0.194 -> 0.319 and 0.250 -> 0.321 (seed 1); README "Session 29". Part of the
# embedding cache's key and recorded in the bundle (``template_versions``).
TEMPLATE_VERSION = 1
NO_TEMPLATES = 0  # the template version a bundle built with ``hum-index build --no-sung-templates`` records
TEMPLATE_STYLE = "la"
TEMPLATE_MEDIAN_MIDI = 57.0
TEMPLATE_SEED = 4321


@dataclass
class SongEmbedding:
    vectors: np.ndarray  # (n_windows, dim) unit vectors
    duration_s: float
    contour: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # device.pitch.matching_contour
    contour_estimated: bool = False  # tracked from audio (may follow the bass an octave off), not read from notes


def embed_audio(
    audio: np.ndarray,
    encoder: Encoder,
    frontend: FrontEndConfig,
    windows: WindowConfig,
    what: str = "song",
    notes: NoteEvents | None = None,
) -> SongEmbedding:
    """Song audio (mono, at ``frontend.sample_rate``) -> its song-window embeddings and contour.

    ``notes``: the song's notes, when it came from a melody file (its contour is then exact: that of
    its tune part, :meth:`models.melody.NoteEvents.tune`).
    """
    frames = compute_features(audio, frontend)
    if len(frames) == 0:
        raise ValueError(f"{what}: too short to analyse")
    cut = cut_windows(frames, windows.length, windows.song_hop)
    if notes is not None:
        tune = notes.tune()  # every part is rendered; only the tune's notes are matched
        pitches = notes_contour(tune.onset, tune.dur, tune.pitch, frontend.frame_rate)
    else:
        pitches = recording_pitches(frames, frontend)
    return SongEmbedding(encoder.embed(cut), len(audio) / frontend.sample_rate, matching_contour(pitches), notes is None)


def sung_template(notes: NoteEvents, sample_rate: int) -> np.ndarray:
    """The tune part of ``notes`` sung by our hum synthesizer (see :data:`TEMPLATE_VERSION`): dry,
    no singing errors, moved by whole semitones to a median of ``TEMPLATE_MEDIAN_MIDI``."""
    from models.hum import voice

    tune = notes.tune()
    shift = float(np.round(TEMPLATE_MEDIAN_MIDI - np.median(tune.pitch)))
    sung = NoteEvents(tune.onset, tune.dur, tune.pitch + shift, tune.velocity)
    return voice(sung, TEMPLATE_STYLE, tune.end_s + 0.5, np.random.default_rng(TEMPLATE_SEED), sample_rate)


def with_sung_template(
    song: SongEmbedding, notes: NoteEvents, encoder: Encoder, frontend: FrontEndConfig, windows: WindowConfig
) -> SongEmbedding:
    """``song`` with the windows of its tune sung (:func:`sung_template`) after its own."""
    frames = compute_features(sung_template(notes, frontend.sample_rate), frontend)
    if len(frames) == 0:
        return song
    sung = encoder.embed(cut_windows(frames, windows.length, windows.song_hop))
    return SongEmbedding(np.concatenate([song.vectors, sung]), song.duration_s, song.contour, song.contour_estimated)


def embed_song(path: Path, encoder: Encoder, frontend: FrontEndConfig, windows: WindowConfig, templates: bool = True) -> SongEmbedding:
    """A catalog file's embedding: an audio file's own windows; a melody file's rendered on the
    catalog instrument, then (``templates``) its tune sung (:func:`with_sung_template`)."""
    if path.suffix.lower() in audio_suffixes():
        audio, notes = read_audio(path, frontend.sample_rate), None
    else:
        notes = read_melody_file(path)
        audio = render_notes(notes, CATALOG_INSTRUMENT, frontend.sample_rate, rng=np.random.default_rng(RENDER_SEED))
    check_not_silent(audio, str(path), "is it the right file, or a track that failed to export?")
    song = embed_audio(audio, encoder, frontend, windows, str(path), notes)
    return song if notes is None or not templates else with_sung_template(song, notes, encoder, frontend, windows)
