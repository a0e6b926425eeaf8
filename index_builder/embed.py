"""One song file -> its window embeddings and melody contour, with the device's own front end and encoder.

Audio files are decoded and converted by :mod:`device.audio_io`; melody files (MIDI, ABC) are
rendered to audio first with a fixed instrument and seed, so a catalog renders identically on
every build. The melody contour of a melody file comes from its notes (exact); that of an audio
file from the pitch tracker that reads hums (:mod:`device.pitch`) set for recordings (candidates
above the bass register), which follows the lead line of a melody-dominated recording and is
noisier in a dense mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.audio_io import AUDIO_SUFFIXES, check_not_silent, read_audio
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


def embed_song(path: Path, encoder: Encoder, frontend: FrontEndConfig, windows: WindowConfig) -> SongEmbedding:
    if path.suffix.lower() in AUDIO_SUFFIXES:
        audio, notes = read_audio(path, frontend.sample_rate), None
    else:
        notes = read_melody_file(path)
        audio = render_notes(notes, CATALOG_INSTRUMENT, frontend.sample_rate, rng=np.random.default_rng(RENDER_SEED))
    check_not_silent(audio, str(path), "is it the right file, or a track that failed to export?")
    return embed_audio(audio, encoder, frontend, windows, str(path), notes)
