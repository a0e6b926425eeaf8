"""Which parts of the melody matcher matter: DTW variants on the accuracy benchmark's catalog and hums.

    python -m benchmarks.melody_ablation --songs 2000 --queries 200 --seed 0

Same catalog and hums as :mod:`benchmarks.accuracy` (same seeds). For each hum, the pool is the
embedding's best 100 songs plus the right song (so the table measures the matcher alone, not the
shortlist's recall); each variant ranks the pool by DTW cost only. Variants switch one thing off
at a time against the shipped matcher:

- octave-folded costs instead of octave-aware ones;
- 1 or 2 transpositions instead of 4;
- one tempo (the hum as sung) instead of the 3 scales nearest the note-rate estimate;
- all 5 tempo scales for every song;
- free local slopes (no ``OFF_DIAGONAL_PENALTY``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.accuracy import benchmark_hum, build_catalog, choose_catalog, metric_cells
from device import melody_match
from device.bundle import load_bundle
from device.frontend import compute_features
from device.pitch import hum_contour
from device.recognizer import Recognizer
from device.search import SearchConfig
from index_builder.cli import DEFAULT_MODEL

POOL = 100


def variants() -> dict[str, dict]:
    """Name -> settings (``fold``, ``shifts``, ``scales``, ``tried``) of each matcher variant."""
    shipped = {
        "fold": False,
        "shifts": melody_match.SHIFTS_TRIED,
        "scales": melody_match.TEMPO_SCALES,
        "tried": melody_match.TEMPO_SCALES_TRIED,
        "penalty": melody_match.OFF_DIAGONAL_PENALTY,
    }
    return {
        f"shipped (octave-aware, {melody_match.SHIFTS_TRIED} keys, {melody_match.TEMPO_SCALES_TRIED} of 5 tempi, slopes charged)": shipped,
        "octave-folded": {**shipped, "fold": True},
        "2 keys": {**shipped, "shifts": 2},
        "1 key": {**shipped, "shifts": 1},
        "one tempo (x1 only)": {**shipped, "scales": (1.0,), "tried": 1},
        "all 5 tempi for every song": {**shipped, "tried": 5},
        "free slopes (no off-diagonal penalty)": {**shipped, "penalty": 0.0},
    }


def costs_with(settings: dict, query: np.ndarray, contours: list[np.ndarray]) -> np.ndarray:
    names = ("SHIFTS_TRIED", "TEMPO_SCALES_TRIED", "OFF_DIAGONAL_PENALTY")
    saved = [getattr(melody_match, name) for name in names]
    for name, value in zip(names, (settings["shifts"], settings["tried"], settings["penalty"])):
        setattr(melody_match, name, value)
    try:
        return melody_match.match_contours(query, contours, scales=settings["scales"], fold=settings["fold"])
    finally:
        for name, value in zip(names, saved):
            setattr(melody_match, name, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    catalog, n_targets, _ = choose_catalog(args.songs, args.seed)
    extras: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.humbundle"
        build_catalog(catalog, "arrangement", DEFAULT_MODEL.read_bytes(), path, args.seed, extras=extras)
        bundle = load_bundle(path)
    songs = extras["notes_contours"]
    embedding = Recognizer(bundle, threads=1, search=replace(SearchConfig(), rerank=0))
    ids = {s.song_id: i for i, s in enumerate(bundle.songs)}
    table = {name: [] for name in variants()}
    seconds = dict.fromkeys(table, 0.0)
    in_pool = 0
    for q in range(args.queries):
        target, audio, _, _ = benchmark_hum(catalog, n_targets, args.seed, q)
        ranked = [ids[m.song_id] for m in embedding.recognize_audio(audio, top=POOL).matches]
        in_pool += target in ranked
        pool = ranked if target in ranked else [*ranked, target]
        contour = hum_contour(compute_features(audio, bundle.frontend), bundle.frontend)
        for name, settings in variants().items():
            started = time.perf_counter()
            costs = costs_with(settings, contour, [songs[s] for s in pool])
            seconds[name] += time.perf_counter() - started
            table[name].append(1 + int(np.sum(costs < costs[pool.index(target)])))
    print(
        f"\n{args.songs} songs, {args.queries} hums; pool = the embedding's best {POOL} + the right song "
        f"(the embedding alone had it in its best {POOL} for {in_pool / args.queries:.3f}); DTW cost only\n"
    )
    print("| matcher | top-1 | top-10 | MRR | ms per hum (one core) |\n|---|---|---|---|---|")
    for name, ranks in table.items():
        print(f"| {name} | {metric_cells(ranks)} | {1000 * seconds[name] / len(ranks):.0f} |")


if __name__ == "__main__":
    main()
