"""One song file -> its window embeddings, with the device's own front end and encoder.

Audio files are decoded and converted by :mod:`device.audio_io`; melody files (MIDI, ABC) are
rendered to audio first with a fixed instrument and seed, so a catalog renders identically on
every build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.audio_io import AUDIO_SUFFIXES, check_not_silent, read_audio
from device.encoder_runtime import Encoder
from device.frontend import FrontEndConfig, compute_features
from device.windows import WindowConfig, cut_windows
from models.melody import read_melody_file
from models.render import CATALOG_INSTRUMENT, render_notes

RENDER_SEED = 1234


@dataclass
class SongEmbedding:
    vectors: np.ndarray  # (n_windows, dim) unit vectors
    duration_s: float


def song_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 audio of a song file at ``sample_rate`` (melody files are rendered)."""
    if path.suffix.lower() in AUDIO_SUFFIXES:
        audio = read_audio(path, sample_rate)
    else:
        events = read_melody_file(path)
        audio = render_notes(events, CATALOG_INSTRUMENT, sample_rate, rng=np.random.default_rng(RENDER_SEED))
    check_not_silent(audio, str(path))
    return audio


def embed_audio(audio: np.ndarray, encoder: Encoder, frontend: FrontEndConfig, windows: WindowConfig, what: str = "song") -> SongEmbedding:
    """Song audio (mono, at ``frontend.sample_rate``) -> its song-window embeddings."""
    frames = compute_features(audio, frontend)
    if len(frames) == 0:
        raise ValueError(f"{what}: too short to analyse")
    cut = cut_windows(frames, windows.length, windows.song_hop)
    return SongEmbedding(encoder.embed(cut), len(audio) / frontend.sample_rate)


def embed_song(path: Path, encoder: Encoder, frontend: FrontEndConfig, windows: WindowConfig) -> SongEmbedding:
    return embed_audio(song_audio(path, frontend.sample_rate), encoder, frontend, windows, str(path))
