"""Catalog scale: what 10k and 100k-song bundles cost to build, ship, load, hold and search.

    python -m benchmarks.scale [--songs 10000 100000] [--vectors-per-song 4] [--queries 200]

Embeddings are synthetic but shaped like real ones: each song has a random direction and its
windows scatter around it (windows of one song resemble each other more than other songs'), and
each query window is a noisy copy of one window of a random song. Everything else is the real
code: ``write_bundle`` (hnswlib, M=16, ef_construction=200), ``load_bundle``, ``rank_songs`` with
the shipped search settings (one 11-window query per shipped tempo version: 5 versions = 55 k-NN
lookups, shortlist, exact rescoring; the melody stages are not included).

Columns: build = index construction + bundle write on this machine's cores; load = a fresh
process's ``load_bundle`` (checksums, signature-free); RSS = resident set of a fresh process after
loading the bundle with its encoder and answering one query, and its peak; search = one query's
``rank_songs`` on ONE core (p50 / p99 over ``--queries``); recall@10 = share of each query
window's true 10 nearest windows (exact inner product) that the index returns at the shipped ef.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.device import CACHE, REPO, pin_to_one_core, resident_memory_mb
from device.search import SearchConfig

QUERY_WINDOWS = 11  # a 10 s hum at the shipped query hop
TEMPO_VERSIONS = len(SearchConfig().tempo_scales)  # the shipped versions, each given 11 windows (x0.5 has fewer, x2 more)


def synthetic_vectors(n_songs: int, per_song: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((n_songs, 1, dim)).astype(np.float32)
    windows = centres + 0.8 * rng.standard_normal((n_songs, per_song, dim)).astype(np.float32)
    windows = windows.reshape(-1, dim)
    return windows / np.linalg.norm(windows, axis=1, keepdims=True)


def build(n_songs: int, per_song: int) -> tuple[Path, float, np.ndarray]:
    """(bundle path, build seconds, the vectors) for a synthetic catalog; the bundle is cached."""
    from device.bundle import Song, load_bundle
    from index_builder.bundle_writer import write_bundle

    demo = load_bundle(REPO / "demo" / "demo.humbundle")
    vectors = synthetic_vectors(n_songs, per_song, int(demo.manifest["embedding_dim"]), np.random.default_rng(n_songs))
    path = CACHE / f"scale-{n_songs}x{per_song}.humbundle"
    songs = [Song(f"song-{i:06d}.mp3", f"Song {i}", "Artist", "0" * 64, 200.0, i * per_song, per_song) for i in range(n_songs)]
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_bundle(path, demo.model, songs, vectors, demo.frontend, demo.windows)
    return path, time.perf_counter() - started, vectors


def load_seconds(path: Path) -> float:
    code = (
        "import sys, time\nfrom device.bundle import load_bundle\n"
        "t = time.perf_counter()\nload_bundle(sys.argv[1])\nprint(time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True, cwd=REPO)
    return float(out.stdout.split()[-1])


def queries(vectors: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Each query: TEMPO_VERSIONS x QUERY_WINDOWS noisy copies of windows of one random song's neighbourhood."""
    out = []
    for _ in range(n):
        picks = vectors[rng.integers(0, len(vectors), TEMPO_VERSIONS * QUERY_WINDOWS)]
        noisy = picks + 0.05 * rng.standard_normal(picks.shape).astype(np.float32)
        out.append((noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32))
    return out


def measure_search(path: Path, vectors: np.ndarray, n_queries: int) -> tuple[np.ndarray, float]:
    """(per-query search ms on one core, recall@10 of the index at the shipped ef)."""
    from device.bundle import load_bundle
    from device.search import rank_songs

    bundle = load_bundle(path)
    first, count = bundle.songs.first_vector, bundle.songs.n_vectors
    bundle.index.set_num_threads(1)
    times, hits, total = [], 0, 0
    for i, query in enumerate(queries(vectors, n_queries, np.random.default_rng(7))):
        started = time.perf_counter()
        rank_songs(query, [QUERY_WINDOWS] * TEMPO_VERSIONS, bundle.index, bundle.vector_song, first, count, SearchConfig())
        times.append((time.perf_counter() - started) * 1000)
        if i < 50:  # recall on the first 50 queries' windows (exact search over all vectors is the slow part)
            labels, _ = bundle.index.knn_query(query, k=10)
            exact = np.argpartition(-(query @ vectors.T), 10, axis=1)[:, :10]
            hits += sum(len(set(a) & set(b)) for a, b in zip(labels.tolist(), exact.tolist()))
            total += exact.size
    return np.asarray(times), hits / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--vectors-per-song", type=int, default=4)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rows = []
    for n_songs in args.songs:
        path, build_s, vectors = build(n_songs, args.vectors_per_song)
        load_s = load_seconds(path)
        rss, peak = resident_memory_mb(path)
        pin_to_one_core()
        times, recall = measure_search(path, vectors, args.queries)
        rows.append((n_songs, len(vectors), build_s, path.stat().st_size / 1e6, load_s, rss, peak, times, recall))
        print(f"done {n_songs} songs", file=sys.stderr, flush=True)
    print(f"\n{args.vectors_per_song} vectors per song; search = one query of {TEMPO_VERSIONS}x{QUERY_WINDOWS} windows on one core\n")
    print("| songs | vectors | build s | bundle MB | load s | RSS MB | peak RSS MB | search ms p50 / p99 | recall@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n_songs, n_vec, build_s, size, load_s, rss, peak, times, recall in rows:
        print(
            f"| {n_songs:,} | {n_vec:,} | {build_s:.1f} | {size:.1f} | {load_s:.2f} | {rss:.0f} | {peak:.0f} | "
            f"{np.median(times):.2f} / {np.percentile(times, 99):.2f} | {recall:.3f} |"
        )


if __name__ == "__main__":
    main()
