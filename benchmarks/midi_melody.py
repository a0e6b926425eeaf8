"""Catalogs of multi-part MIDI files: does the contour follow the tune, and does recognition hold?

    python -m benchmarks.midi_melody --songs 300 --hums 100 --seed 0

Held-out tunes are written as type-1 MIDI files the way songs come from the web: the tune on one
channel (a random lead program, named "Melody"/"Vocals"/... in half the files, unnamed or named
after its instrument in the rest) among chords, bass and drums on their own channels, in random
track order. Arrangements vary in what makes the tune hard to find:

- ``chords below``: block chords under the tune (what ``models.render.chord_track`` writes);
- ``pad above``: the same chords voiced an octave up, held as a pad above the tune;
- ``arpeggio``: the chords broken into eighth notes in the tune's register, one note at a time,
  sounding the whole song (a second monophonic line);
- ``held line above``: one long note per bar (the chord's root) a fifth or more above the tune, a
  monophonic string line that a "highest part" rule would take;
- ``harmony below``: the tune doubled 3-4 semitones lower, same rhythm (a second voice).

Part 1 reads every file with :func:`models.melody.read_midi` and reports how often the chosen part
is the tune and the share of the tune's frames where the contour is the tune's pitch, against the
skyline over all parts (the highest note at each moment: the rule before session 6).

Part 2 (``--hums``): every file is embedded by the index builder's own per-file path
(:func:`index_builder.embed.embed_song`: rendered, encoded, contour from its notes) into a bundle,
and hums of the tunes (:func:`benchmarks.accuracy.random_hum`) are recognized; a second bundle with
the same vectors but skyline contours shows what the part choice is worth end to end.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.accuracy import OUTSIDERS_KEPT, benchmark_hum, metric_cells, rank_of
from device.bundle import Song, load_bundle
from device.encoder_runtime import OnnxEncoder
from device.frontend import FrontEndConfig
from device.pitch import matching_contour, notes_contour
from device.recognizer import Recognizer
from device.windows import WindowConfig
from index_builder.bundle_writer import write_bundle
from index_builder.cli import DEFAULT_MODEL
from index_builder.embed import embed_song
from models.hum import choose_seconds_per_beat
from models.melody import Melody, MidiPart, NoteEvents, load_tune_cache, read_midi, tune_split, write_parts_midi
from models.render import chord_track

KINDS = ("chords below", "pad above", "arpeggio", "held line above", "harmony below")
LEAD_PROGRAMS = (0, 40, 52, 56, 65, 73, 80, 81)  # piano, violin, choir, trumpet, sax, flute, square and saw leads
MELODY_NAMES = ("Melody", "Vocals", "Lead", "Voice", "Tune")
OTHER_NAMES = ("Piano", "Strings", "Track 2", "Guitar", "")


def arpeggio(chords: NoteEvents, register: float) -> NoteEvents:
    """The chords broken into eighth notes (one at a time) near ``register``, through each chord's span."""
    onset, pitch = [], []
    starts = np.unique(chords.onset)
    for k, start in enumerate(starts):
        tones = np.sort(chords.pitch[chords.onset == start])
        tones = tones + 12 * np.round((register - 3 - tones.mean()) / 12)
        end = starts[k + 1] if k + 1 < len(starts) else start + float(chords.dur[chords.onset == start].max())
        step = (end - start) / max(1, round((end - start) / 0.25))
        for j, t in enumerate(np.arange(start, end - 1e-6, step)):
            onset.append(t)
            pitch.append(tones[[0, 1, 2, 1][j % 4]])
    onset = np.asarray(onset)
    return NoteEvents(onset, np.full(len(onset), 0.22), np.asarray(pitch, float), np.full(len(onset), 0.7))


def arranged_parts(melody: Melody, kind: str, rng: np.random.Generator) -> tuple[list[MidiPart], NoteEvents]:
    """(the MIDI parts of one arranged song, in random order; the tune's notes)."""
    spb = choose_seconds_per_beat(melody, rng)
    tune = melody.to_events(spb, transpose=int(rng.integers(-4, 5)))
    chords, bass = chord_track(tune, spb * 4, rng)
    channels = [int(c) for c in rng.permutation([c for c in range(16) if c != 9])[:3]]
    named = rng.uniform() < 0.5
    tune_name = str(rng.choice(MELODY_NAMES)) if named else str(rng.choice(OTHER_NAMES))
    parts = [MidiPart(tune_name, channels[0], int(rng.choice(LEAD_PROGRAMS)), tune)]
    register = float(np.median(tune.pitch))
    if kind == "pad above":
        lift = 12 * np.ceil((register + 3 - np.median(chords.pitch)) / 12)
        chords = NoteEvents(chords.onset, chords.dur, chords.pitch + lift, chords.velocity)
        parts.append(MidiPart("Pad" if named else "", channels[1], 89, chords))
    elif kind == "arpeggio":
        parts.append(MidiPart("Arp" if named else "", channels[1], int(rng.choice([0, 24, 46])), arpeggio(chords, register)))
    elif kind == "held line above":
        roots = np.unique(chords.onset, return_index=True)[1]
        line = chords.pitch[roots] + 12 * np.ceil((register + 5 - chords.pitch[roots].mean()) / 12)
        held = NoteEvents(chords.onset[roots], chords.dur[roots], line, np.full(len(roots), 0.6))
        parts.append(MidiPart("Strings" if named else "", channels[1], 48, held))
    elif kind == "harmony below":
        lower = NoteEvents(tune.onset, tune.dur, tune.pitch - rng.choice([3, 4]), tune.velocity * 0.8)
        parts.append(MidiPart("Harmony" if named else "", channels[1], int(rng.choice(LEAD_PROGRAMS)), lower))
    else:
        parts.append(MidiPart("Chords" if named else "", channels[1], int(rng.choice([0, 24, 48])), chords))
    parts.append(MidiPart("Bass" if named else "", channels[2], 33, bass))
    beats = np.arange(0, tune.end_s, spb)
    kicks = NoteEvents(beats, np.full(len(beats), 0.1), np.full(len(beats), 36.0), np.ones(len(beats)))
    parts.append(MidiPart("Drums" if named else "", 9, 0, kicks))
    order = rng.permutation(len(parts))
    return [parts[i] for i in order], tune


def frame_agreement(contour: np.ndarray, truth: np.ndarray) -> float:
    """Share of the tune's sounding frames where ``contour`` holds the tune's pitch (within 0.5 st)."""
    n = min(len(contour), len(truth))
    sounding = ~np.isnan(truth[:n])
    if not sounding.any():
        return 0.0
    return float(np.mean(np.abs(contour[:n][sounding] - truth[:n][sounding]) < 0.5))


def skyline(notes: NoteEvents, frame_rate: float) -> np.ndarray:
    return notes_contour(notes.onset, notes.dur, notes.pitch, frame_rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=300)
    parser.add_argument("--hums", type=int, default=0, help="also recognize this many hums (part 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tunes = load_tune_cache()
    _, held_out = tune_split(tunes)
    keys = np.random.default_rng(args.seed).permutation(held_out)[: min(args.songs, len(held_out) - OUTSIDERS_KEPT)]
    catalog = [tunes[k] for k in keys]
    frontend = FrontEndConfig()
    rate = frontend.frame_rate
    stats: dict[str, list[tuple[bool, float, float]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, melody in enumerate(catalog):
            rng = np.random.default_rng([args.seed, i])
            kind = KINDS[i % len(KINDS)]
            parts, tune = arranged_parts(melody, kind, rng)
            path = write_parts_midi(parts, Path(tmp) / f"song{i:04d}.mid")
            files.append(path)
            notes = read_midi(path)
            truth = skyline(tune, rate)
            chosen = notes.tune()
            right_part = len(chosen.onset) == len(tune.onset) and np.allclose(np.sort(chosen.pitch), np.sort(tune.pitch))
            stats[kind].append((right_part, frame_agreement(skyline(chosen, rate), truth), frame_agreement(skyline(notes, rate), truth)))
        print(f"\n{len(catalog)} multi-part MIDI songs (held-out tunes, seed {args.seed})\n")
        print("| arrangement | songs | tune part chosen | contour = tune (chosen part) | contour = tune (skyline, before) |")
        print("|---|---|---|---|---|")
        for kind in (*KINDS, "all"):
            rows = [r for k in KINDS for r in stats[k]] if kind == "all" else stats[kind]
            chosen_right, agree, before = (np.mean([r[j] for r in rows]) for j in range(3))
            print(f"| {kind} | {len(rows)} | {chosen_right:.3f} | {agree:.3f} | {before:.3f} |")
        if args.hums:
            recognize(catalog, files, args, Path(tmp))


def recognize(catalog: list[Melody], files: list[Path], args, tmp: Path) -> None:
    """Part 2: bundles with the chosen-part contours and with skyline contours; the same hums."""
    model = DEFAULT_MODEL.read_bytes()
    encoder, frontend, windows = OnnxEncoder(model, threads=2), FrontEndConfig(), WindowConfig()
    songs, vectors, chosen, skylines, first = [], [], [], [], 0
    for i, path in enumerate(files):
        song = embed_song(path, encoder, frontend, windows)
        songs.append(Song(path.name, catalog[i].title, "", "", round(song.duration_s, 2), first, len(song.vectors)))
        vectors.append(song.vectors)
        first += len(song.vectors)
        chosen.append(song.contour)
        skylines.append(matching_contour(skyline(read_midi(path), frontend.frame_rate)))
    ranks: dict[str, list[int]] = {}
    for name, contours in (("tune part (shipped)", chosen), ("skyline (before)", skylines)):
        bundle_path = tmp / f"{len(ranks)}.humbundle"
        write_bundle(bundle_path, model, songs, np.concatenate(vectors), frontend, windows, contours=contours)
        recognizer = Recognizer(load_bundle(bundle_path), threads=1)
        ranks[name] = []
        for q in range(args.hums):
            target, audio, _, _ = benchmark_hum(catalog, len(catalog), args.seed, q)
            answer = recognizer.recognize_audio(audio, top=len(songs))
            order = np.array([int(m.song_id[4:8]) for m in answer.matches])
            ranks[name].append(rank_of(order, target, len(songs)))
    print(f"\n{args.hums} hums against the {len(files)} songs, built by index_builder.embed.embed_song\n")
    print("| song contours | top-1 | top-10 | MRR |")
    print("|---|---|---|---|")
    for name, r in ranks.items():
        print(f"| {name} | {metric_cells(r)} |")


if __name__ == "__main__":
    main()
