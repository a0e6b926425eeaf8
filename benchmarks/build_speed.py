"""Index build speed: seconds of catalog audio a build gets through per second, on ONE core.

    python -m benchmarks.build_speed [--songs 40] [--format flac|mp3|wav|ogg]

DESIGN's target is a build of at least 50x real time per core of catalog audio. The first
``--songs`` tunes of the demo catalog (MIDI, in the repo) are built twice from scratch with the
real ``hum-index build --workers 1 --no-cache``, this process pinned to one core:

- recordings: each tune first rendered as an arrangement (melody, chords, bass, drums, room; the
  accuracy benchmark's renderer) and written as an audio file of ``--format``, untimed; the build
  decodes it, resamples to 16 kHz, runs the front end, the encoder on every window and the
  recordings' pitch tracker, then writes the index and the bundle;
- melodies: the same tunes as the MIDI files themselves; the build renders each one (a fixed
  piano-like instrument), embeds it and takes its contour from the notes.

"x real time" is the songs' total duration over the build's wall time, from start to the written
bundle (catalog scan, hashing, embedding, HNSW construction, zip), so it includes the fixed costs a
40-song build still feels (model load, writing); bigger catalogs amortise them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.device import pin_to_one_core
from device.audio_io import resample
from device.bundle import load_bundle
from index_builder.cli import main as index_main
from models.melody import read_melody_file
from models.render import render_arrangement

REPO = Path(__file__).resolve().parents[1]
DEMO_CATALOG = REPO / "demo" / "catalog"
SUBTYPES = {"flac": "PCM_16", "wav": "PCM_16", "mp3": "MPEG_LAYER_III", "ogg": "VORBIS"}
BEAT_S = 0.5  # the arrangement's drums and chords change per beat; the build's speed does not depend on it


def recordings(midi_files: list[Path], folder: Path, fmt: str) -> None:
    """Each tune as an arranged "original recording" in ``folder`` (44.1 kHz stereo, as a music library holds)."""
    rng = np.random.default_rng(0)
    for path in midi_files:
        events = read_melody_file(path)
        audio = render_arrangement(events, BEAT_S, rng, events.end_s + 1.0)
        library = resample(audio, 16000, 44100)
        sf.write(folder / f"{path.stem}.{fmt}", np.stack([library, 0.9 * library], axis=1), 44100, subtype=SUBTYPES[fmt])


def timed_build(folder: Path, out: Path) -> tuple[float, float, int]:
    """(wall seconds, seconds of song audio in the bundle, songs) of one build from scratch."""
    started = time.perf_counter()
    if index_main(["build", str(folder), "-o", str(out), "--workers", "1", "--no-cache"]) != 0:
        raise SystemExit(f"build of {folder} failed")
    wall = time.perf_counter() - started
    songs = load_bundle(out).songs
    return wall, float(np.sum(songs.duration_s)), len(songs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=40, help="demo tunes per catalog (default 40)")
    parser.add_argument("--format", choices=sorted(SUBTYPES), default="flac", help="audio format of the recordings (default flac)")
    args = parser.parse_args()
    midi_files = sorted(DEMO_CATALOG.glob("*.mid"))[: args.songs]
    with tempfile.TemporaryDirectory(prefix="build-speed-") as tmp:
        audio_folder, midi_folder = Path(tmp) / "recordings", Path(tmp) / "melodies"
        audio_folder.mkdir()
        midi_folder.mkdir()
        recordings(midi_files, audio_folder, args.format)
        for path in midi_files:
            (midi_folder / path.name).write_bytes(path.read_bytes())
        pin_to_one_core()
        rows = []
        for label, folder in ((f"recordings ({args.format}, 44.1 kHz stereo)", audio_folder), ("melodies (MIDI, rendered)", midi_folder)):
            wall, audio_s, n = timed_build(folder, Path(tmp) / f"{folder.name}.humbundle")
            rows.append((label, n, audio_s, wall))
    print("\none core (hum-index build --workers 1 --no-cache)\n")
    print("| catalog | songs | audio s | build s | x real time (target >= 50) |")
    print("|---|---|---|---|---|")
    for label, n, audio_s, wall in rows:
        print(f"| {label} | {n} | {audio_s:.0f} | {wall:.1f} | {audio_s / wall:.0f} |")


if __name__ == "__main__":
    main()
