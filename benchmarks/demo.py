"""The demo hums against the demo bundle: right answer's rank, confidence and per-stage time.

    python -m benchmarks.demo [--bundle demo/demo.humbundle] [--threads 1]

Uses ``demo/hum_answers.csv`` (written by ``models.make_demo``) for the truth. Times are one x86 core
of this machine, each query run once after one warm-up query.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from device.bundle import load_bundle
from device.cli import DEFAULT_BUNDLE
from device.recognizer import Recognizer

DEMO = DEFAULT_BUNDLE.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    recognizer = Recognizer(load_bundle(args.bundle), threads=args.threads)
    with open(DEMO / "hum_answers.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    recognizer.recognize_file(DEMO / "hums" / rows[0]["file"])  # warm-up
    print(
        "| hum | style | key | tempo × | SNR dB | right song rank | confident | confidence "
        "| decode ms | front end ms | encode ms | search ms | melody ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ranks, stage_ms = [], []
    for row in rows:
        answer = recognizer.recognize_file(DEMO / "hums" / row["file"], top=len(recognizer.bundle.songs))
        titles = [m.title for m in answer.matches]
        rank = titles.index(row["title"]) + 1 if row["title"] in titles else len(titles) + 1
        ranks.append(rank)
        t = answer.timings_ms
        encode = t["encode_streaming"] + t["encode"]  # a file is one push: most windows are embedded while it is read
        melody = t.get("melody", 0.0)
        stage_ms.append([t["decode"], t["frontend"], encode, t["search"], melody])
        confidence = "n/a" if answer.confidence is None else f"{answer.confidence:.2f}"
        print(
            f"| {row['file']} | {row['style']} | {float(row['key_change']):+.0f} | {row['tempo_factor']} | {row['snr_db']} | {rank} | "
            f"{'yes' if answer.confident else 'no'} | {confidence} | {t['decode']:.0f} | {t['frontend']:.0f} | {encode:.0f} | "
            f"{t['search']:.0f} | {melody:.0f} |"
        )
    ranks_arr = np.asarray(ranks)
    hits = int(np.sum(ranks_arr == 1))
    print(f"\ntop-1 {hits}/{len(ranks)}, top-10 {np.mean(ranks_arr <= 10):.3f}, MRR {np.mean(1 / ranks_arr):.3f}")
    print("mean ms per stage (decode, front end, encode, search, melody): " + ", ".join(f"{v:.0f}" for v in np.mean(stage_ms, axis=0)))


if __name__ == "__main__":
    main()
