"""Long songs: accuracy and melody-stage time when every catalog song lasts minutes, not seconds.

    python -m benchmarks.long_songs --songs 2000 --per-song 7 --queries 100 --seed 0

The accuracy benchmark's catalog (:mod:`benchmarks.accuracy`, same seed: its rendered
arrangements, embeddings and melody contours) is joined ``--per-song`` tunes at a time into long
"songs" (each tune's windows and contour back to back, so 7 folk tunes make a song of ~4 minutes,
what a catalog of pop recordings holds). The hums are the accuracy benchmark's first
``--queries`` (careful singers, our voice); a hum is right when it names the long song holding its
tune. The shipped search, one core, one encoder thread; the same hums against the source catalog
of single tunes, for comparison. "search" is the embedding stage (k-NN and rescoring every window
of the candidates), "whole query" front end to answer for a 4-15 s file (on the speaker the
front end and most of the encoder run during the capture); each p50 / p95. The melody stage
matches whole song contours, so its time grows with the songs' length (README "Session 16").
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.accuracy import benchmark_hum, build_catalog, choose_catalog, metric_cells
from device.bundle import Bundle, Song, load_bundle
from device.recognizer import Recognizer
from index_builder.bundle_writer import write_bundle
from index_builder.cli import DEFAULT_MODEL


def join_songs(source: Bundle, per_song: int, seed: int, out: Path) -> np.ndarray:
    """Writes a bundle of ``source``'s songs joined ``per_song`` at a time (in a shuffled order) and
    returns, per source song, the joined song that holds it."""
    order = np.random.default_rng(seed).permutation(len(source.songs))
    groups = [order[i : i + per_song] for i in range(0, len(order), per_song)]
    holder = np.empty(len(source.songs), np.int64)
    songs, vectors, contours, first = [], [], [], 0
    for number, group in enumerate(groups):
        holder[group] = number
        rows = [source.songs[int(s)] for s in group]
        ids = np.concatenate([np.arange(r.first_vector, r.first_vector + r.n_vectors) for r in rows])
        joined = np.asarray(source.index.get_items(ids, return_type="numpy"), np.float32)
        songs.append(Song(f"long-{number:04d}", f"Long song {number}", "", "", float(sum(r.duration_s for r in rows)), first, len(joined)))
        vectors.append(joined)
        contours.append(np.concatenate([source.contour(int(s)) for s in group]))
        first += len(joined)
    write_bundle(out, source.model, songs, np.concatenate(vectors), source.frontend, source.windows, contours=contours)
    return holder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=2000)
    parser.add_argument("--per-song", type=int, default=7, help="tunes joined into one long song")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="processes building the source catalog")
    args = parser.parse_args()

    catalog, n_targets, _ = choose_catalog(args.songs, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        source_path, long_path = Path(tmp) / "source.humbundle", Path(tmp) / "long.humbundle"
        build_catalog(catalog, "arrangement", DEFAULT_MODEL.read_bytes(), source_path, args.seed, workers=args.workers)
        source = load_bundle(source_path)
        holder = join_songs(source, args.per_song, args.seed, long_path)
        bundle = load_bundle(long_path)
    durations = bundle.songs.duration_s
    print(
        f"\n{len(bundle.songs)} long songs of {args.per_song} tunes (median {np.median(durations):.0f} s, "
        f"{np.min(durations):.0f}-{np.max(durations):.0f} s) from the {len(catalog)}-tune seed-{args.seed} catalog; {args.queries} hums\n"
    )
    hums = [benchmark_hum(catalog, n_targets, args.seed, q)[:2] for q in range(args.queries)]  # (target, audio)
    targets = np.array([target for target, _ in hums])
    print("| catalog | top-1 | top-10 | MRR | melody + screen ms (p50 / p95, one core) | search ms | whole query ms |")
    print("|---|---|---|---|---|---|---|")
    for name, catalog_bundle, right in (
        (f"{len(source.songs)} single tunes", source, targets),
        (f"{len(bundle.songs)} long songs", bundle, holder[targets]),
    ):
        recognizer = Recognizer(catalog_bundle, threads=1)
        row_of = {song.song_id: i for i, song in enumerate(catalog_bundle.songs)}
        ranks, spent, search, whole = [], [], [], []
        for target, (_, audio) in zip(right.tolist(), hums):
            answer = recognizer.recognize_audio(audio, top=len(catalog_bundle.songs))
            spent.append(answer.timings_ms.get("melody", 0.0) + answer.timings_ms.get("screen", 0.0))
            search.append(answer.timings_ms["search"])
            whole.append(answer.timings_ms["total"])
            order = [row_of[m.song_id] for m in answer.matches]
            ranks.append(order.index(target) + 1 if target in order else len(catalog_bundle.songs))
        cells = " | ".join(f"{np.percentile(x, 50):.0f} / {np.percentile(x, 95):.0f}" for x in (spent, search, whole))
        print(f"| {name} | {metric_cells(ranks)} | {cells} |")


if __name__ == "__main__":
    main()
