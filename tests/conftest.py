"""Shared fixtures: a tiny real catalog (MIDI and WAV songs), its bundle, and synthetic hums.

The tunes in tests/data are held-out tunes (never trained on) copied from music21's corpus, so the
tests do not need ../shared and exercise the encoder on melodies it has not seen.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import alsa_microphone
import numpy as np
import pytest
import soundfile as sf

from models.hum import HumConditions, render_hum
from models.melody import Melody, write_midi
from models.render import render_arrangement

# Before anything imports sounddevice: PortAudio reads the ALSA configuration once, when it starts.
MICROPHONES = alsa_microphone.install()

DATA = Path(__file__).parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[1]
SR = 16000
RECORDING_SECONDS_PER_BEAT = 0.45


def load_test_tunes() -> list[Melody]:
    raw = json.loads((DATA / "held_out_tunes.json").read_text())
    return [
        Melody(key, v["title"], np.asarray(v["pitch"], np.int16), np.asarray(v["onset"], float), np.asarray(v["dur"], float))
        for key, v in raw.items()
    ]


def seconds_per_beat(melody: Melody) -> float:
    """The tempo the catalog's recording of ``melody`` is rendered at (median note ~0.4 s)."""
    return 0.4 / float(np.median(melody.dur))


def render_recording(melody: Melody, seed: int) -> np.ndarray:
    spb = seconds_per_beat(melody)
    events = melody.to_events(spb)
    return render_arrangement(events, spb, np.random.default_rng(seed), events.end_s + 1.0)


def make_hum(
    melody: Melody, seed: int, transpose: float = -7.0, tempo_factor: float = 1.2, style: str = "la", length_s: float = 10.0
) -> np.ndarray:
    """A hum of the tune's opening in another key and tempo, at 25 dB SNR in pink noise."""
    conditions = HumConditions(style=style, transpose=transpose, tempo_factor=tempo_factor, snr_db=25.0, noise_kind="pink")
    audio, _ = render_hum(melody, seconds_per_beat(melody), 0.0, length_s, np.random.default_rng(seed), conditions)
    return audio


@pytest.fixture(scope="session")
def tunes() -> list[Melody]:
    return load_test_tunes()


@pytest.fixture(scope="session")
def catalog_dir(tmp_path_factory, tunes) -> Path:
    """Eight songs: even-numbered tunes as MIDI files, odd-numbered as rendered WAV recordings."""
    folder = tmp_path_factory.mktemp("catalog")
    rows = []
    for i, melody in enumerate(tunes[:8]):
        if i % 2 == 0:
            name = f"song{i}.mid"
            write_midi(melody, folder / name, quarters_per_minute=60.0 / seconds_per_beat(melody))
        else:
            name = f"song{i}.wav"
            sf.write(folder / name, render_recording(melody, seed=i), SR, subtype="PCM_16")
        rows.append({"file": name, "title": melody.title, "artist": "Trad." if i < 4 else ""})
    with open(folder / "catalog.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "title", "artist"])
        writer.writeheader()
        writer.writerows(rows[:-1])  # the last song is left out: it must be titled by its file stem
    return folder


@pytest.fixture(scope="session")
def bundle_path(tmp_path_factory, catalog_dir) -> Path:
    from index_builder.cli import main

    out = tmp_path_factory.mktemp("bundle") / "test.humbundle"
    assert main(["build", str(catalog_dir), "-o", str(out), "--workers", "2", "--no-cache"]) == 0
    return out


@pytest.fixture(scope="session")
def microphones() -> dict[str, alsa_microphone.FileMicrophone]:
    """ALSA input devices fed from raw files (see tests/alsa_microphone.py)."""
    return MICROPHONES
