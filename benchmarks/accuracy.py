"""Accuracy on held-out tunes: top-1, top-10 and MRR of synthetic hums against a rendered catalog.

    python -m benchmarks.accuracy --songs 1000 --queries 300 --seed 0 [--tempo-scales 1.0 0.8,1.0,1.25]

The catalog is ``--songs`` held-out tunes (never trained on), each rendered as an "original
recording" (an arrangement in a random key and tempo, ``--render arrangement``) or as a bare piano
melody like the index builder renders MIDI files (``--render melody``). Targets are a random subset
of the same catalog, so they are neither longer nor shorter than the distractors. Each query is a
hum of 4-15 s starting anywhere in its tune, with random style, key, tempo, errors, room and noise.
The catalog goes through the real code path: device front end, shipped int8 encoder, bundle
writer, bundle loader and :class:`device.recognizer.Recognizer`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from device.bundle import Song, load_bundle
from device.encoder_runtime import OnnxEncoder
from device.frontend import FrontEndConfig
from device.recognizer import Recognizer
from device.search import SearchConfig
from device.windows import WindowConfig
from index_builder.bundle_writer import write_bundle
from index_builder.cli import DEFAULT_MODEL
from index_builder.embed import embed_audio
from models.hum import choose_seconds_per_beat, render_hum
from models.melody import Melody, load_tune_cache, tune_split
from models.render import render_arrangement, render_notes


def render_song(melody: Melody, how: str, rng: np.random.Generator) -> np.ndarray:
    spb = choose_seconds_per_beat(melody, rng)
    events = melody.to_events(spb, transpose=int(rng.integers(-4, 5)))
    if how == "melody":
        return render_notes(events, rng=rng)
    return render_arrangement(events, spb, rng, events.end_s + 1.0)


def build_catalog(tunes: list[Melody], how: str, model: bytes, out: Path, seed: int, tflite_model: bytes | None = None) -> Path:
    """Renders every tune, embeds it with ``model`` as the index builder does, and writes their bundle."""
    encoder = OnnxEncoder(model, threads=2)
    frontend, windows = FrontEndConfig(), WindowConfig()
    songs, vectors, first = [], [], 0
    for i, melody in enumerate(tunes):
        song = embed_audio(render_song(melody, how, np.random.default_rng([seed, i])), encoder, frontend, windows, melody.key)
        songs.append(Song(melody.key, melody.title, "", "", round(song.duration_s, 2), first, len(song.vectors)))
        vectors.append(song.vectors)
        first += len(song.vectors)
    write_bundle(out, model, songs, np.concatenate(vectors), frontend, windows, tflite_model=tflite_model)
    return out


def random_hum(target: Melody, catalog: list[Melody], rng: np.random.Generator) -> tuple[np.ndarray, object, float]:
    """A 4-15 s hum of ``target`` starting anywhere, random conditions; TV noise from another tune."""
    length = float(rng.uniform(4, 15))
    start_beat = float(target.onset[rng.integers(0, max(len(target.onset) - 8, 1))])
    distractor = catalog[int(rng.integers(len(catalog)))]
    audio, cond = render_hum(target, choose_seconds_per_beat(target, rng), start_beat, length, rng, distractor=distractor)
    return audio, cond, length


def bucket(name: str, value: float) -> str:
    edges = {"snr_db": (10, 20), "tempo_factor": (0.8, 1.25), "length_s": (7, 11)}[name]
    low, high = edges
    return f"{name}<{low}" if value < low else (f"{name}>={high}" if value >= high else f"{low}<={name}<{high}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--render", choices=["arrangement", "melody"], default="arrangement")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--negatives", type=int, default=100, help="hums of held-out tunes NOT in the catalog")
    parser.add_argument(
        "--tempo-scales",
        nargs="+",
        default=["0.8,1.0,1.25"],
        help="search variants to compare on the same queries, each a comma list of query time-stretch factors (e.g. 1.0 0.8,1.0,1.25)",
    )
    args = parser.parse_args()

    tunes = load_tune_cache()
    _, held_out = tune_split(tunes)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(held_out)
    catalog = [tunes[k] for k in order[: min(args.songs, len(held_out) - 50)]]
    outsiders = [tunes[k] for k in order[len(catalog) :]]
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = load_bundle(build_catalog(catalog, args.render, args.model.read_bytes(), Path(tmp) / "bench.humbundle", args.seed))
    build_s = time.time() - started
    queries = []
    for q in range(args.queries):
        qrng = np.random.default_rng([args.seed, 10**6 + q])
        target = catalog[int(qrng.integers(len(catalog)))]
        queries.append((target, *random_hum(target, catalog, qrng)))
    outsider_hums = [
        random_hum(outsiders[q % len(outsiders)], catalog, np.random.default_rng([args.seed, 2 * 10**6 + q]))[0]
        for q in range(args.negatives)
    ]
    for variant in args.tempo_scales:
        scales = tuple(float(x) for x in variant.split(","))
        recognizer = Recognizer(bundle, threads=1, search=SearchConfig(tempo_scales=scales))
        print(
            f"\ncatalog: {len(catalog)} held-out tunes rendered as {args.render}; {args.queries} hums; "
            f"model {args.model.name}; query tempo scales {scales}; catalog built in {build_s:.0f} s\n"
        )
        evaluate(recognizer, catalog, queries, outsider_hums)


def evaluate(recognizer: Recognizer, catalog: list[Melody], queries: list, outsider_hums: list[np.ndarray]) -> None:
    """Prints the accuracy table by condition and the decision table for one search variant."""
    ranks, groups, answers = [], defaultdict(list), []
    for target, audio, cond, length in queries:
        answer = recognizer.recognize_audio(audio, top=len(catalog))
        answers.append(answer)
        ids = [m.song_id for m in answer.matches]
        rank = ids.index(target.key) + 1 if target.key in ids else len(catalog) + 1
        ranks.append(rank)
        for key in (
            f"style={cond.style}",
            f"noise={cond.noise_kind}",
            bucket("snr_db", cond.snr_db),
            bucket("tempo_factor", cond.tempo_factor),
            bucket("length_s", length),
        ):
            groups[key].append(rank)
    print(f"| {'condition':<24} | {'n':>4} | {'top-1':>6} | {'top-10':>6} | {'MRR':>6} |")
    print(f"|{'-' * 26}|{'-' * 6}|{'-' * 8}|{'-' * 8}|{'-' * 8}|")
    for name, values in [("all", ranks), *sorted(groups.items())]:
        r = np.asarray(values)
        print(f"| {name:<24} | {len(r):>4} | {np.mean(r == 1):>6.3f} | {np.mean(r <= 10):>6.3f} | {np.mean(1 / r):>6.3f} |")
    outsider_answers = [recognizer.recognize_audio(audio, top=2) for audio in outsider_hums]
    print_decision_table(recognizer.decision, ranks, answers, outsider_answers)


def score_and_lead(answer) -> tuple[float, float]:
    scores = [m.score for m in answer.matches]
    return scores[0], scores[0] - (scores[1] if len(scores) > 1 else -1.0)


def print_decision_table(decision, ranks: list[int], answers: list, outsider_answers: list) -> None:
    """Hit rate and false-accept rate of "confident" at the shipped thresholds and nearby ones."""
    correct = np.asarray(ranks) == 1
    inside = np.array([score_and_lead(a) for a in answers])
    outside = np.array([score_and_lead(a) for a in outsider_answers]) if outsider_answers else np.zeros((0, 2))
    print(
        f"\nconfident = best score >= min_score and lead over the runner-up >= min_margin ({len(outside)} hums of tunes NOT in the catalog)"
    )
    print("| min_score | min_margin | hit rate (confident & right) | confident & wrong | false accepts (not in catalog) |")
    print("|---|---|---|---|---|")
    for min_score in sorted({decision.min_score, 0.4, 0.5, 0.6}):
        for min_margin in sorted({decision.min_margin, 0.01, 0.02, 0.04, 0.06}):
            ok_in = (inside[:, 0] >= min_score) & (inside[:, 1] >= min_margin)
            ok_out = (outside[:, 0] >= min_score) & (outside[:, 1] >= min_margin) if len(outside) else np.zeros(0, bool)
            mark = " (shipped)" if (min_score, min_margin) == (decision.min_score, decision.min_margin) else ""
            far = f"{ok_out.mean():.3f}" if len(ok_out) else "n/a"
            print(f"| {min_score}{mark} | {min_margin} | {np.mean(ok_in & correct):.3f} | {np.mean(ok_in & ~correct):.3f} | {far} |")


if __name__ == "__main__":
    main()
