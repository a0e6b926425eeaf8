"""What the speaker costs: release-to-answer by stage, streaming front-end speed, resident memory.

    python -m benchmarks.device [--hums 20] [--songs 100000] [--vectors-per-song 4] [--hum-seconds 10]

Everything runs pinned to ONE core of this machine (``sched_setaffinity``), one encoder thread.

- Release-to-answer: each hum (10 s, or ``--hum-seconds``; the hum synthesizer, held-out tunes,
  sung again from the top when the hum outlasts the tune) is pushed into a
  query in 20 ms blocks, as the capture loop does, so windows are embedded during the "capture";
  then the clock starts (the release) and runs until the ranked answer exists: the last windows'
  encoding, the melody screen (catalogs up to 10,000 songs), the search and the melody
  re-ranking. Measured against the demo bundle and against a bundle of ``--songs`` songs whose
  vectors are synthetic (random unit vectors plus the demo songs' real vectors, so the queries
  still have their answers in it). The synthetic bundle is cached in .cache/bench/.
- Full loop: the same through ``ListenLoop`` and PortAudio, with an ALSA file-backed microphone
  (tests/alsa_microphone.py) and gpiozero's MockFactory button, when ALSA is available.
- Front end: a 60 s hum through ``StreamingFrontEnd`` in 20 ms blocks, as a multiple of real time.
- Memory: a fresh process loads the bundle and the encoder and answers one hum; its peak resident
  set (``ru_maxrss``) is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "bench"
BLOCK = 320  # 20 ms at 16 kHz


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def demo_hums(n: int, seconds: float = 10.0) -> list[np.ndarray]:
    """Hums of the held-out test tunes (tests/data) in varied styles, keys and tempi.

    Their tunes are not in the demo catalog; that changes no timing (every query searches the whole index).
    """
    from models.hum import HumConditions, render_hum
    from models.melody import Melody

    raw = json.loads((REPO / "tests" / "data" / "held_out_tunes.json").read_text())
    tunes = [
        Melody(k, v["title"], np.asarray(v["pitch"], np.int16), np.asarray(v["onset"], float), np.asarray(v["dur"], float))
        for k, v in raw.items()
    ]
    rng = np.random.default_rng(5)
    hums = []
    for i in range(n):
        tune = tunes[i % len(tunes)]
        spb = 0.4 / float(np.median(tune.dur))
        melody = sung_again_until(tune, seconds / spb)
        conditions = HumConditions(
            style=["hum", "la", "doo", "whistle"][i % 4],
            transpose=float(rng.uniform(-6, 6)),
            tempo_factor=float(rng.uniform(0.85, 1.2)),
            snr_db=20.0,
            noise_kind="pink",
        )
        audio, _ = render_hum(melody, spb, 0.0, seconds, rng, conditions)
        hums.append(audio)
    return hums


def sung_again_until(melody, beats: float):
    """``melody`` repeated from its top until it lasts ``beats`` (a long hum of a short tune goes round
    again, as a person singing it would, rather than into silence)."""
    from models.melody import Melody

    length = float(melody.onset[-1] + melody.dur[-1])
    times = max(int(np.ceil(beats / length)), 1)
    if times == 1:
        return melody
    return Melody(
        melody.key,
        melody.title,
        np.tile(melody.pitch, times),
        np.concatenate([melody.onset + k * length for k in range(times)]),
        np.tile(melody.dur, times),
    )


def release_to_answer(recognizer, hums: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per hum: ms for the last windows' encoding, the search, and the two together; plus capture-time work."""
    rows = []
    for hum in hums:
        query = recognizer.start_query()
        for start in range(0, len(hum), BLOCK):
            query.push(hum[start : start + BLOCK])
        released = time.perf_counter()
        answer = recognizer.answer(query, top=3)
        total = (time.perf_counter() - released) * 1000
        t = answer.timings_ms
        stages = [t["encode"], t["search"], total, t["frontend"], t["encode_streaming"]]
        rows.append([*stages, len(hum) / 16000, t.get("melody", 0.0), t.get("screen", 0.0)])
    data = np.asarray(rows)
    return {
        "encode": data[:, 0],
        "search": data[:, 1],
        "total": data[:, 2],
        "frontend": data[:, 3],
        "streaming": data[:, 4],
        "audio_s": data[:, 5],
        "melody": data[:, 6],
        "screen": data[:, 7],
    }


def frontend_speed(seconds: float = 60.0) -> float:
    from device.frontend import StreamingFrontEnd

    audio = np.concatenate(demo_hums(int(seconds // 10)))
    frontend = StreamingFrontEnd()
    started = time.perf_counter()
    for start in range(0, len(audio), BLOCK):
        frontend.push(audio[start : start + BLOCK])
    return (len(audio) / 16000) / (time.perf_counter() - started)


def big_bundle(n_songs: int, vectors_per_song: int) -> Path:
    """The demo bundle's songs plus synthetic ones up to ``n_songs`` (cached)."""
    from device.bundle import Song, load_bundle
    from index_builder.bundle_writer import write_bundle

    path = CACHE / f"synthetic-{n_songs}x{vectors_per_song}-notes.humbundle"
    if path.exists():
        return path
    demo = load_bundle(REPO / "demo" / "demo.humbundle")
    real = np.asarray(demo.index.get_items(range(demo.index.get_current_count())), dtype=np.float32)
    rng = np.random.default_rng(0)
    n_fake = n_songs - len(demo.songs)
    fake = rng.standard_normal((n_fake * vectors_per_song, real.shape[1])).astype(np.float32)
    fake /= np.linalg.norm(fake, axis=1, keepdims=True)
    songs = list(demo.songs)
    first = len(real)
    for i in range(n_fake):
        songs.append(Song(f"synthetic-{i:06d}", f"Synthetic song {i}", "", "", 180.0, first + i * vectors_per_song, vectors_per_song))
    # Melody contours of the length of a 30 s tune: 90 random notes (MIDI 55-79) of 3 values each, so the
    # screen and the DTW cost what they would. (Before session 5 these were pitches 0-12, which the
    # bundle's contour packing clips to one constant pitch: a flat contour the DTW abandons at once.)
    contours = [demo.contour(i) for i in range(len(demo.songs))]
    contours += [np.repeat(rng.integers(55, 80, 90), 3).astype(np.float32) for _ in range(n_fake)]
    print(f"building {path.name}: {len(real) + len(fake):,} vectors (one-time, cached)", file=sys.stderr, flush=True)
    write_bundle(path, demo.model, songs, np.concatenate([real, fake]), demo.frontend, demo.windows, contours=contours)
    return path


def resident_memory_mb(bundle: Path) -> tuple[float, float]:
    """(resident MB after answering one hum, peak resident MB) of a fresh process that loads ``bundle``.

    Peak is VmHWM (reset by exec, unlike ``ru_maxrss``, which a child inherits from a big parent).
    """
    code = (
        "import sys, numpy as np\n"
        "from device.bundle import load_bundle\n"
        "from device.recognizer import Recognizer\n"
        "r = Recognizer(load_bundle(sys.argv[1]))\n"
        "t = np.arange(16000 * 8) / 16000\n"
        "r.recognize_audio((0.1 * np.sin(2 * np.pi * 220 * t * (1 + 0.05 * np.sin(3 * t)))).astype(np.float32))\n"
        "status = dict(x.split(':', 1) for x in open('/proc/self/status'))\n"
        "print(int(status['VmRSS'].split()[0]), int(status['VmHWM'].split()[0]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(bundle)], capture_output=True, text=True, check=True, cwd=REPO)
    now, peak = out.stdout.split()[-2:]
    return int(now) / 1024, int(peak) / 1024


def full_loop(bundle_path: Path, hums: list[np.ndarray]) -> np.ndarray | None:
    """release_to_answer (ms) through ListenLoop + PortAudio + the ALSA file microphone, or None without ALSA."""
    sys.path.insert(0, str(REPO / "tests"))
    import alsa_microphone

    (CACHE / "alsa").mkdir(parents=True, exist_ok=True)
    microphones = alsa_microphone.install(CACHE / "alsa")
    try:
        import threading

        from gpiozero import Button, Device
        from gpiozero.pins.mock import MockFactory

        from device.bundle import load_bundle
        from device.capture import CaptureConfig, MicrophoneCapture, input_devices
        from device.listen import ListenLoop
        from device.recognizer import Recognizer

        if not any(d["name"] == "hum_mic" for d in input_devices()):
            return None
    except Exception as exc:  # no PortAudio / ALSA here: the loop row is left out
        print(f"full loop skipped: {exc}", file=sys.stderr)
        return None
    Device.pin_factory = MockFactory()
    button, pin = Button(17), Device.pin_factory.pin(17)
    recognizer = Recognizer(load_bundle(bundle_path))
    capture = MicrophoneCapture(CaptureConfig(device="hum_mic", ring_seconds=20, max_seconds=20), 16000)
    records: list[dict] = []
    loop = ListenLoop(recognizer, capture, button, emit=records.append)
    server = threading.Thread(target=loop.serve, daemon=True)
    server.start()
    for hum in hums:
        microphones["hum_mic"].load(np.concatenate([hum, np.zeros(3 * 16000, np.float32)]), 16000)
        count = len(records)
        pin.drive_low()
        while len(records) == count:
            time.sleep(0.002)
        pin.drive_high()
        time.sleep(0.3)
    loop.stop_event.set()
    return np.asarray([r["timings_ms"]["release_to_answer"] for r in records if r["event"] == "answer"])


def stats(values: np.ndarray) -> str:
    return f"{np.median(values):.1f} / {np.percentile(values, 95):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hums", type=int, default=20)
    parser.add_argument("--songs", type=int, default=100_000)
    parser.add_argument("--vectors-per-song", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument(
        "--hum-seconds", type=float, default=10.0, help="length of the release-to-answer hums (a capture's max_seconds caps it)"
    )
    args = parser.parse_args()
    pin_to_one_core()

    from device.bundle import load_bundle
    from device.recognizer import Recognizer

    demo_path = REPO / "demo" / "demo.humbundle"
    big_path = big_bundle(args.songs, args.vectors_per_song)
    hums = demo_hums(args.hums, args.hum_seconds)
    results = {}
    print(f"one core, one encoder thread, {args.hums} hums of {args.hum_seconds:g} s, pushed in 20 ms blocks\n")
    print(
        "| bundle | songs | vectors | load s | final encode ms (p50 / p95) | screen ms | search ms | melody ms "
        "| release-to-answer ms | RSS MB | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, path in [("demo", demo_path), (f"synthetic {args.songs // 1000}k", big_path)]:
        started = time.perf_counter()
        recognizer = Recognizer(load_bundle(path))
        load_s = time.perf_counter() - started
        release_to_answer(recognizer, hums[:2])  # warm-up
        timing = release_to_answer(recognizer, hums)
        rss, peak = resident_memory_mb(path)
        counts = recognizer.bundle.manifest["counts"]
        results[name] = {"load_s": load_s, "rss_mb": rss, "peak_rss_mb": peak, **{k: float(np.median(v)) for k, v in timing.items()}}
        results[name]["total_p95"] = float(np.percentile(timing["total"], 95))
        print(
            f"| {name} | {counts['songs']:,} | {counts['vectors']:,} | {load_s:.1f} | {stats(timing['encode'])} | "
            f"{stats(timing['screen'])} | {stats(timing['search'])} | {stats(timing['melody'])} | {stats(timing['total'])} | "
            f"{rss:.0f} | {peak:.0f} |"
        )
    capture_load = (timing["frontend"] + timing["streaming"]) / (timing["audio_s"] * 1000)
    print(f"\nwork done DURING capture (front end + window encoding): {np.median(capture_load) * 100:.1f} % of one core")
    speed = frontend_speed()
    results["frontend_x_realtime"] = speed
    print(f"streaming front end: {speed:.0f}x real time (60 s of hums in 20 ms blocks)")
    loop = full_loop(demo_path, hums[:5])
    if loop is not None and len(loop):
        results["loop_release_to_answer_ms"] = float(np.median(loop))
        print(f"full loop (PortAudio + ring buffer + ListenLoop, demo bundle, {len(loop)} presses): release-to-answer {stats(loop)} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
