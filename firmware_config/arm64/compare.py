"""Compares the arm64 (emulated) answers with the x86-64 ones that check.sh wrote; exit 1 on any difference.

For every backend and hum: the same top-10 songs in the same order, every score within
``SCORE_TOLERANCE``, and no training-side module imported on the arm64 device path. Prints a table.
Emulated timings are printed for what they are: qemu user mode translates every instruction, so
they say nothing about a Pi's speed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Scores must agree this closely: far looser than float rounding between two CPUs, still 10x finer
# than the smallest lead a decision uses.
SCORE_TOLERANCE = 1e-3


def read_answers(path: Path) -> dict[str, dict]:
    return {answer["file"]: answer for answer in map(json.loads, path.read_text().splitlines())}


def compare(out: Path, backend: str) -> tuple[list[str], dict]:
    """(problems, summary) for one backend."""
    x86, arm = read_answers(out / f"x86-{backend}.jsonl"), read_answers(out / f"arm64-{backend}.jsonl")
    problems = []
    if set(x86) != set(arm):
        problems.append(f"{backend}: different files answered: x86 {sorted(x86)} vs arm64 {sorted(arm)}")
    worst = 0.0
    for name in sorted(set(x86) & set(arm)):
        a, b = x86[name], arm[name]
        if "error" in a or "error" in b:
            if a.get("error") != b.get("error"):
                problems.append(f"{backend} {name}: x86 {a.get('error')!r} vs arm64 {b.get('error')!r}")
            continue
        ids_a, ids_b = [m["song_id"] for m in a["matches"]], [m["song_id"] for m in b["matches"]]
        if ids_a != ids_b:
            problems.append(f"{backend} {name}: top-10 differs: x86 {ids_a} vs arm64 {ids_b}")
            continue
        gap = max(abs(m["score"] - n["score"]) for m, n in zip(a["matches"], b["matches"]))
        worst = max(worst, gap)
        if gap > SCORE_TOLERANCE:
            problems.append(f"{backend} {name}: scores differ by {gap:.2e} (tolerance {SCORE_TOLERANCE})")
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
    columns = ["backend", "hums", "same top-10, same order", "worst score gap", "x86 ms/hum", "arm64 emulated ms/hum"]
    columns += ["arm64 wall s (incl. start-up)", "training modules imported"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['hums']} | {r['same_top10']}/{r['hums']} | {r['worst_score_gap']:.1e} | {r['x86_ms_per_hum']:.0f} | "
            f"{r['arm64_emulated_ms_per_hum']:.0f} | {r['arm64_wall_ms'] / 1000:.1f} | {', '.join(r['imported']) or 'none'} |"
        )
    (args.out / "summary.json").write_text(json.dumps({"rows": rows, "problems": problems}, indent=2))
    for problem in problems:
        print(f"DIFFERENCE: {problem}", file=sys.stderr)
    print("\nsame answers on arm64" if not problems else f"\n{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
