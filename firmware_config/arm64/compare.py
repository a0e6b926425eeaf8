"""Compares the arm64 (emulated) answers with the x86-64 ones that check.sh wrote; exit 1 on any difference.

For every backend and hum: the same first song, the same top-10 up to ties (songs whose scores
differ by less than the backend's ``SCORE_TOLERANCE`` may trade places, also at the cut-off),
every shared song's score within that tolerance, and no training-side module imported on the
arm64 device path. Exact order agreement is reported too. Prints a table.
Emulated timings are printed for what they are: qemu user mode translates every instruction, so
they say nothing about a Pi's speed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Scores must agree this closely: far looser than float rounding between two CPUs, still finer
# than any lead a decision relies on. A score is the embedding similarity minus 3x the melody's DTW
# cost, and the contour behind that cost goes through float FFTs and a parabolic peak fit whose
# rounding differs between NEON and AVX: session 4 saw ONNX scores move by up to 3.5e-3 with the same
# top-10 order on all demo hums. The int8 TFLite backends get a looser bar: XNNPACK picks different
# int8 kernels on ARM (NEON) and x86 (AVX2), whose requantization rounds differently, which moved
# scores by up to ~1.1e-2 (songs ranked below the first).
SCORE_TOLERANCE = {"onnx": 5e-3, "litert": 2e-2, "tflite-runtime": 2e-2}


def same_ranking(a: list[dict], b: list[dict], tolerance: float) -> str:
    """'' when two top-N lists agree: same first song, each shared song's score within ``tolerance``,
    and any song in one list only sitting at the cut-off (within ``tolerance`` of the last score).

    Songs whose scores are closer than the tolerance may trade places: that is a tie, not a
    different answer.
    """
    if not a or not b:
        return "" if a == b else "one side has no matches"
    if a[0]["song_id"] != b[0]["song_id"]:
        return f"first song differs: {a[0]['song_id']} vs {b[0]['song_id']}"
    score_a, score_b = {m["song_id"]: m["score"] for m in a}, {m["song_id"]: m["score"] for m in b}
    for song in score_a.keys() & score_b.keys():
        if abs(score_a[song] - score_b[song]) > tolerance:
            return f"{song}: scores {score_a[song]} vs {score_b[song]}"
    for only, scores in ((score_a.keys() - score_b.keys(), score_a), (score_b.keys() - score_a.keys(), score_b)):
        cut = min(scores.values())
        for song in only:
            if scores[song] - cut > 2 * tolerance:
                return f"{song} ranks above the cut-off on one side only (score {scores[song]}, cut-off {cut})"
    return ""


def read_answers(path: Path) -> dict[str, dict]:
    return {answer["file"]: answer for answer in map(json.loads, path.read_text().splitlines())}


def compare(out: Path, backend: str) -> tuple[list[str], dict]:
    """(problems, summary) for one backend."""
    x86, arm = read_answers(out / f"x86-{backend}.jsonl"), read_answers(out / f"arm64-{backend}.jsonl")
    problems = []
    if set(x86) != set(arm):
        problems.append(f"{backend}: different files answered: x86 {sorted(x86)} vs arm64 {sorted(arm)}")
    worst, agree = 0.0, 0
    for name in sorted(set(x86) & set(arm)):
        a, b = x86[name], arm[name]
        if "error" in a or "error" in b:
            if a.get("error") != b.get("error"):
                problems.append(f"{backend} {name}: x86 {a.get('error')!r} vs arm64 {b.get('error')!r}")
            continue
        tolerance = SCORE_TOLERANCE.get(backend, 1e-3)
        difference = same_ranking(a["matches"], b["matches"], tolerance)
        if difference:
            problems.append(f"{backend} {name}: {difference} (tolerance {tolerance})")
            continue
        agree += 1
        shared = {m["song_id"]: m["score"] for m in b["matches"]}
        worst = max([worst] + [abs(m["score"] - shared[m["song_id"]]) for m in a["matches"] if m["song_id"] in shared])
        if a["confident"] != b["confident"]:
            problems.append(f"{backend} {name}: confident {a['confident']} on x86, {b['confident']} on arm64")
    imported = json.loads((out / f"arm64-{backend}.imports").read_text().strip().splitlines()[-1])
    if imported:
        problems.append(f"{backend}: the arm64 device path imported training-side modules: {imported}")
    arm_ms = [b["timings_ms"]["total"] for b in arm.values() if "timings_ms" in b]
    x86_ms = [a["timings_ms"]["total"] for a in x86.values() if "timings_ms" in a]
    summary = {
        "backend": backend,
        "hums": len(arm),
        "same_top10": sum(
            1
            for n in x86
            if n in arm and [m["song_id"] for m in x86[n].get("matches", [])] == [m["song_id"] for m in arm[n].get("matches", [])]
        ),
        "agree": agree,
        "tolerance": SCORE_TOLERANCE.get(backend, 1e-3),
        "worst_score_gap": worst,
        "x86_ms_per_hum": sum(x86_ms) / max(len(x86_ms), 1),
        "arm64_emulated_ms_per_hum": sum(arm_ms) / max(len(arm_ms), 1),
        "arm64_wall_ms": int((out / f"arm64-{backend}.wall_ms").read_text()),
        "imported": imported,
    }
    return problems, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--backends", nargs="+", required=True)
    parser.add_argument("--arm64-machine", default="aarch64")
    parser.add_argument("--qemu-cpu", default="")
    args = parser.parse_args()
    problems, rows = [], []
    for backend in args.backends:
        found, summary = compare(args.out, backend)
        problems += found
        rows.append(summary)
    print(f"\narm64 ({args.arm64_machine}, qemu -cpu {args.qemu_cpu}) vs x86-64, demo bundle built on x86-64, demo hums\n")
    columns = ["backend", "hums", "same top-10, same order", "same ranking up to ties", "score tolerance", "worst score gap"]
    columns += ["x86 ms/hum", "arm64 emulated ms/hum"]
    columns += ["arm64 wall s (incl. start-up)", "training modules imported"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['hums']} | {r['same_top10']}/{r['hums']} | {r['agree']}/{r['hums']} | {r['tolerance']:.0e} | "
            f"{r['worst_score_gap']:.1e} | {r['x86_ms_per_hum']:.0f} | "
            f"{r['arm64_emulated_ms_per_hum']:.0f} | {r['arm64_wall_ms'] / 1000:.1f} | {', '.join(r['imported']) or 'none'} |"
        )
    (args.out / "summary.json").write_text(json.dumps({"rows": rows, "problems": problems}, indent=2))
    for problem in problems:
        print(f"DIFFERENCE: {problem}", file=sys.stderr)
    print("\nsame answers on arm64" if not problems else f"\n{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
