"""Command: make the built-in demo: a catalog of held-out tunes as MIDI, its bundle, and demo hums.

    python -m models.make_demo --out demo --songs 300 --hums 8 --seed 3

Writes ``demo/catalog/*.mid`` + ``catalog.csv`` (so anyone can rebuild the bundle with
``hum-index build demo/catalog -o demo/demo.humbundle``), ``demo/demo.humbundle``, and
``demo/hums/*`` (hums made by the project's own hum synthesizer, in keys and tempi other than the
catalog's, saved in several formats and sample rates) with ``demo/hum_answers.csv``. The tunes are
held-out tunes (never trained on) from music21's corpus (see README: licence).
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from device.audio_io import resample
from index_builder.cli import main as index_main
from models.hum import HumConditions, render_hum
from models.melody import load_tune_cache, tune_split, write_midi

COLLECTIONS = {
    "essenFolksong": "Essen folk song collection",
    "oneills1850": "O'Neill's Music of Ireland",
    "airdsAirs": "Aird's Airs",
    "ryansMammoth": "Ryan's Mammoth Collection",
    "miscFolk": "Traditional",
}
# (style, sample rate, channels, format, subtype, suffix): the demo also shows what input is accepted.
HUM_FILES = [
    ("la", 16000, 1, "WAV", "PCM_16", ".wav"),
    ("hum", 44100, 2, "FLAC", "PCM_24", ".flac"),
    ("whistle", 48000, 1, "FLAC", "PCM_16", ".flac"),
    ("da", 22050, 1, "OGG", "VORBIS", ".ogg"),
    ("doo", 8000, 1, "WAV", "PCM_U8", ".wav"),
    ("hum", 32000, 1, "MP3", "MPEG_LAYER_III", ".mp3"),
    ("la", 11025, 1, "WAV", "FLOAT", ".wav"),
    ("hum", 16000, 1, "FLAC", "PCM_16", ".flac"),
]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "tune"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo"))
    parser.add_argument("--songs", type=int, default=300)
    parser.add_argument("--hums", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    tunes = load_tune_cache()
    _, held_out = tune_split(tunes)
    eligible = [k for k in held_out if 24 <= len(tunes[k].pitch) <= 200 and k.split("/")[0] in COLLECTIONS]
    chosen = [tunes[k] for k in rng.choice(eligible, args.songs, replace=False)]

    catalog = args.out / "catalog"
    shutil.rmtree(catalog, ignore_errors=True)
    catalog.mkdir(parents=True)
    rows, tempo = [], {}
    for i, melody in enumerate(chosen):
        spb = 0.4 / float(np.median(melody.dur))  # catalog tempo: median note 0.4 s
        name = f"{i:03d}-{slug(melody.title)}.mid"
        write_midi(melody, catalog / name, quarters_per_minute=60.0 / spb)
        rows.append({"file": name, "title": melody.title, "artist": COLLECTIONS[melody.key.split("/")[0]]})
        tempo[melody.key] = spb
    with open(catalog / "catalog.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "title", "artist"])
        writer.writeheader()
        writer.writerows(rows)
    assert index_main(["build", str(catalog), "-o", str(args.out / "demo.humbundle")]) == 0

    hums = args.out / "hums"
    shutil.rmtree(hums, ignore_errors=True)
    hums.mkdir(parents=True)
    answers = []
    picks = rng.choice(len(chosen), args.hums, replace=False)
    for n, (pick, (style, rate, channels, fmt, subtype, suffix)) in enumerate(zip(picks, HUM_FILES), start=1):
        melody = chosen[pick]
        register = 84 if style == "whistle" else (50 if n % 2 else 62)
        conditions = HumConditions(
            style=style,
            transpose=float(register - np.median(melody.pitch) + rng.uniform(-2, 2)),
            tempo_factor=float(rng.choice([0.75, 0.85, 1.2, 1.35])),
            snr_db=float(rng.uniform(15, 30)),
            noise_kind=str(rng.choice(["pink", "babble", "tv"])),
        )
        start = float(melody.onset[rng.integers(0, max(len(melody.onset) // 2, 1))])
        length = float(rng.uniform(8, 14))
        audio, _ = render_hum(melody, tempo[melody.key], start, length, rng, conditions, distractor=chosen[(pick + 1) % len(chosen)])
        audio = resample(audio, 16000, rate)
        if channels == 2:
            audio = np.stack([audio, 0.8 * audio], axis=1)
        name = f"hum{n}-{style}{suffix}"
        sf.write(hums / name, audio, rate, format=fmt, subtype=subtype)
        answers.append(
            {
                "file": name,
                "title": melody.title,
                "style": style,
                "sample_rate": rate,
                "seconds": round(length, 1),
                "key_change": round(conditions.transpose, 1),
                "tempo_factor": conditions.tempo_factor,
                "snr_db": round(conditions.snr_db, 1),
            }
        )
    with open(args.out / "hum_answers.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(answers[0]))
        writer.writeheader()
        writer.writerows(answers)
    print(f"demo: {len(chosen)} songs, {len(answers)} hums in {args.out}")


if __name__ == "__main__":
    main()
