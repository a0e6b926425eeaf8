"""Float vs int8 ONNX vs int8 TFLite: same answers, close embeddings, sizes, single-thread latency.

    python -m benchmarks.export_parity [--songs 300] [--queries 200] [--seed 0]

The accuracy benchmark's catalog and queries (held-out tunes rendered as arrangements; hums of 4-15
s, every style and condition). The float reference is a catalog embedded with
``encoder_fp32.onnx`` and queried with it. The int8 rows use the catalog a speaker really gets:
embedded by ``hum-index`` with ``encoder_int8.onnx``, carrying ``encoder_int8.tflite`` too, and
queried by each runtime that is installed here (onnxruntime; ai-edge-litert and tflite-runtime
with the TFLite model). Columns:

- same top-1 as float: share of queries whose first song equals the float reference's first song;
  also over the "clear" queries only, where the float answer's first song leads its second by
  at least 0.02 (a near-tie between two wrong songs flips with any perturbation);
- top-1: share whose first song is the right one;
- cosine vs float: every 1.0-scale window of every query embedded by both, mean and worst;
- latency: one window (5 s of features), one thread, 300 runs after 20 warm-ups, median and p95.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.accuracy import benchmark_hum, build_catalog
from device.bundle import load_bundle
from device.encoder_runtime import load_encoder
from device.frontend import compute_features
from device.recognizer import Recognizer
from device.windows import WindowConfig, cut_windows
from index_builder.cli import DEFAULT_MODEL, DEFAULT_TFLITE_MODEL
from models.melody import load_tune_cache, tune_split

FLOAT_ONNX = DEFAULT_MODEL.with_name("encoder_fp32.onnx")
CLEAR_LEAD = 0.02  # the float answer's first song leads the second by at least this much
RUNTIMES = [
    ("int8 ONNX", "onnx", "onnxruntime"),
    ("int8 TFLite", "litert", "ai_edge_litert"),
    ("int8 TFLite", "tflite-runtime", "tflite_runtime"),
]


def latency_ms(encoder, window: np.ndarray, runs: int = 300) -> tuple[float, float]:
    for _ in range(20):
        encoder.embed(window)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        encoder.embed(window)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times)), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=300)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tunes = load_tune_cache()
    _, held_out = tune_split(tunes)
    order = np.random.default_rng(args.seed).permutation(held_out)
    catalog = [tunes[k] for k in order[: args.songs]]
    queries = []
    for q in range(args.queries):
        target, audio, _, _ = benchmark_hum(catalog, len(catalog), args.seed, q)
        queries.append((catalog[target], audio))
    windows = np.concatenate(
        [cut_windows(compute_features(audio), WindowConfig().length, WindowConfig().query_hop) for _, audio in queries]
    )

    with tempfile.TemporaryDirectory() as tmp:
        float_bundle = load_bundle(build_catalog(catalog, "arrangement", FLOAT_ONNX.read_bytes(), Path(tmp) / "f.humbundle", args.seed))
        int8_path = build_catalog(
            catalog, "arrangement", DEFAULT_MODEL.read_bytes(), Path(tmp) / "q.humbundle", args.seed, DEFAULT_TFLITE_MODEL.read_bytes()
        )
        int8_bundle = load_bundle(int8_path)

    reference = Recognizer(float_bundle, backend="onnx")
    float_answers = [reference.recognize_audio(audio, top=2) for _, audio in queries]
    float_top = [a.matches[0].song_id for a in float_answers]
    clear = np.array([a.matches[0].score - a.matches[1].score >= CLEAR_LEAD for a in float_answers])
    float_vectors = reference.encoder.embed(windows)
    rows = [("float ONNX", "onnx", FLOAT_ONNX, reference, float_top)]
    for name, backend, module in RUNTIMES:
        if importlib.util.find_spec(module) is None:
            print(f"({backend}: {module} is not installed here; row left out)")
            continue
        recognizer = Recognizer(int8_bundle, backend=backend)
        top = [recognizer.recognize_audio(audio, top=1).matches[0].song_id for _, audio in queries]
        rows.append((name, backend, DEFAULT_MODEL if backend == "onnx" else DEFAULT_TFLITE_MODEL, recognizer, top))

    truth = [target.key for target, _ in queries]
    print(
        f"\n{args.songs} held-out songs (arrangements), {args.queries} hums of 4-15 s, {len(windows)} query windows; "
        "latency: one 5 s window, one thread\n"
    )
    print(f"float's first song leads its second by >= {CLEAR_LEAD} on {clear.sum()} of {len(clear)} queries (the 'clear' ones)\n")
    print(
        "| model | runtime | size KB | same top-1 as float | same top-1, clear queries | top-1 "
        "| cosine vs float mean / worst | latency ms p50 / p95 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, backend, path, recognizer, top in rows:
        vectors = recognizer.encoder.embed(windows)
        cosine = np.sum(vectors * float_vectors, axis=1)
        single = load_encoder(path.read_bytes(), backend, threads=1)
        p50, p95 = latency_ms(single, windows[:1])
        agrees = np.array([a == b for a, b in zip(top, float_top)])
        same, same_clear = agrees.mean(), agrees[clear].mean()
        right = np.mean([a == b for a, b in zip(top, truth)])
        print(
            f"| {name} | {backend} | {path.stat().st_size / 1024:.0f} | {same:.3f} | {same_clear:.3f} | {right:.3f} | "
            f"{cosine.mean():.4f} / {cosine.min():.4f} | {p50:.2f} / {p95:.2f} |"
        )


if __name__ == "__main__":
    main()
