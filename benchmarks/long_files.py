"""Peak memory and time of the command-line tools on long, wide audio files.

    python -m benchmarks.long_files [--query-minutes 3] [--song-minutes 10]

People bring what their recorder made: a query that runs on for minutes (a phone left
recording), at 96 kHz with six channels; a catalog song of ten minutes in stereo. Every tool
reads them through :func:`device.audio_io.read_audio`, the one front end and the encoder, which
before session 29 each took a whole file at once: memory grew with the file (a 3-minute 6-channel
96 kHz query peaked at 1.2 GB resident, more than a Pi Zero 2 W has). This benchmark writes such
files (a sung-like gliding tone with a little noise, untimed), then runs, each in a fresh Python
process, ``hum-device query`` on the query against the demo bundle and ``hum-index build
--workers 1 --no-cache`` on a folder holding the song, and prints each one's peak resident set
(``VmHWM`` of that process) and wall time. A 10 s hum is run the same way as the reference
for what the tools need anyway (Python, numpy, onnxruntime, the bundle).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = REPO / "demo" / "demo.humbundle"

# Runs one CLI in this child process, then prints its own peak resident set.
CHILD = """
import json, resource, sys, time
started = time.perf_counter()
tool, argv = sys.argv[1], sys.argv[2:]
if tool == "query":
    from device.cli import main
else:
    from index_builder.cli import main
code = main(argv)
try:  # this process image's own high-water mark (ru_maxrss keeps the forking parent's across exec)
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "seconds": time.perf_counter() - started, "peak_mb": peak_kb / 1024}))
"""


def gliding_tone(seconds: float, rate: int, channels: int, seed: int) -> np.ndarray:
    """A tone stepping through a scale every half second (a melody of sorts) with a little noise, in every channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    hz = 220.0 * 2.0 ** ((np.floor(t / 0.5) % 12) / 12)
    mono = 0.3 * np.sin(2 * np.pi * np.cumsum(hz) / rate) + 0.02 * rng.standard_normal(len(t))
    gains = np.linspace(1.0, 0.7, channels)
    return (mono[:, None] * gains[None, :]).astype(np.float32)


def run_tool(tool: str, argv: list[str]) -> dict:
    """One CLI run in a fresh process: its exit code, seconds and peak resident MB."""
    done = subprocess.run([sys.executable, "-c", CHILD, tool, *argv], capture_output=True, text=True, cwd=REPO)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{tool} {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--query-minutes", type=float, default=3.0, help="length of the long query (96 kHz, 6 channels, 24-bit WAV)")
    parser.add_argument("--song-minutes", type=float, default=10.0, help="length of the long catalog song (48 kHz stereo 16-bit FLAC)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        hum = folder / "hum-10s.wav"
        sf.write(hum, gliding_tone(10, 16000, 1, 0), 16000, subtype="PCM_16")
        query = folder / f"query-{args.query_minutes:g}min-96k-6ch.wav"
        started = time.perf_counter()
        sf.write(query, gliding_tone(60 * args.query_minutes, 96000, 6, 1), 96000, subtype="PCM_24")
        catalog = folder / "catalog"
        catalog.mkdir()
        sf.write(catalog / "song.flac", gliding_tone(60 * args.song_minutes, 48000, 2, 2), 48000, subtype="PCM_16")
        print(f"files written in {time.perf_counter() - started:.0f} s (untimed)\n")
        for what, tool, argv in (
            ("hum-device query, a 10 s 16 kHz mono hum", "query", ["query", "--bundle", str(DEMO_BUNDLE), str(hum)]),
            (
                f"hum-device query, {args.query_minutes:g} min, 96 kHz, 6 channels, 24-bit WAV",
                "query",
                ["query", "--bundle", str(DEMO_BUNDLE), str(query)],
            ),
            (
                f"hum-index build, one song of {args.song_minutes:g} min, 48 kHz stereo FLAC",
                "index",
                ["build", str(catalog), "-o", str(folder / "out.humbundle"), "--workers", "1", "--no-cache"],
            ),
        ):
            result = run_tool(tool, argv)
            rows.append((what, result))
    print("| run | exit code | wall s | peak resident MB |")
    print("|---|---|---|---|")
    for what, result in rows:
        print(f"| {what} | {result['code']} | {result['seconds']:.1f} | {result['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
