"""``hum-device``: the speaker's command line.

    hum-device query [--bundle B.humbundle] [--json] [--top N] FILE...
    hum-device listen [--profile P.toml] [--bundle B] [--input DEVICE] [--pin N] [--presses N]
    hum-device doctor [--profile P.toml]
    hum-device install NEW.humbundle [--profile P.toml] [--target PATH] [--public-key K.pub]

With ``--json``, one JSON object per line per file, as DESIGN's command-line contract says:
``{"file", "matches": [{"title", "artist", "song_id", "score"}...], "confident", "timings_ms"}``,
or ``{"file", "error"}`` for a file that cannot be answered; the other files still run. Without a
``--bundle``, the demo bundle shipped in the repository is used.
"""

from __future__ import annotations

import os

# One BLAS thread, set before numpy loads (OpenBLAS reads it once, at load). The query's matrix
# products are small (a few thousand rows by 24), and OpenBLAS's default of a thread per core only
# adds hand-offs, worst while the capture thread and the encoder want the same cores. Session 18,
# `hum-device query --json demo/hums/*.wav` on a 2-core x86 machine busy with two other jobs:
# search stage 117-189 ms p50 with the default, 66 ms with one thread (whole query 879-901 ->
# 594-686 ms); idle, the same within noise (search 19-26 -> 18-19 ms). A value set in the
# environment (by the user, the service unit) wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import logging
import sys
from pathlib import Path

from device.audio_io import AudioError, audio_suffixes
from device.bundle import BundleError, load_bundle
from device.encoder_runtime import BACKENDS, ModelError
from device.folders import visible_files
from device.recognizer import Answer, QueryError, Recognizer

logger = logging.getLogger("hum-device")

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "demo" / "demo.humbundle"
EXIT_BAD_BUNDLE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hum-device", description="Offline humming recognizer (device side).")
    parser.add_argument("--debug", action="store_true", help="verbose logging")
    commands = parser.add_subparsers(dest="command", required=True)
    query = commands.add_parser("query", help="recognise recorded hums from files")
    query.add_argument(
        "files", nargs="+", type=Path, help=f"audio files ({' '.join(audio_suffixes())}; any rate/depth/channels), or folders of them"
    )
    query.add_argument(
        "--bundle", type=Path, default=DEFAULT_BUNDLE, help=f"catalog bundle (default: {DEFAULT_BUNDLE.name} shipped with the repo)"
    )
    query.add_argument("--json", action="store_true", help="one JSON object per line per file")
    query.add_argument("--top", type=int, default=5, help="number of songs to list (default 5)")
    query.add_argument("--backend", choices=BACKENDS, default="onnx", help="encoder runtime")
    query.add_argument("--threads", type=int, default=1, help="encoder threads")
    query.add_argument("--public-key", type=Path, default=None, help="refuse the bundle unless signed by this Ed25519 key (PEM)")

    listen = commands.add_parser("listen", help="serve push-button humming from the microphone (what runs on the speaker)")
    listen.add_argument("--profile", type=Path, default=None, help="device profile TOML (see firmware_config/); default: built-in")
    listen.add_argument("--bundle", type=Path, default=None, help="catalog bundle (overrides the profile)")
    listen.add_argument("--input", default=None, help="input device index or part of its name (overrides the profile)")
    listen.add_argument("--pin", type=int, default=None, help="button BCM pin; -1 = Enter on the terminal (overrides the profile)")
    listen.add_argument("--presses", type=int, default=None, help="exit after this many presses (default: serve forever)")

    install = commands.add_parser("install", help="verify a new bundle and switch to it atomically (the old one is kept)")
    install.add_argument("bundle", type=Path, help="the new bundle file")
    install.add_argument("--profile", type=Path, default=None, help="device profile TOML: its device.bundle is the target")
    install.add_argument("--target", type=Path, default=None, help="the served bundle path (overrides the profile)")
    install.add_argument("--public-key", type=Path, default=None, help="require a signature by this key (overrides the profile)")

    doctor = commands.add_parser("doctor", help="check microphone, model, bundle, button and voice; say how to fix what fails")
    doctor.add_argument("--profile", type=Path, default=None, help="device profile TOML (default: built-in)")
    return parser


def format_text(path: Path, answer: Answer) -> str:
    if not answer.matches:
        return f"{path}: no match"
    best = answer.matches[0]
    verdict = f"{best.title}" + (f" — {best.artist}" if best.artist else "")
    head = f"{path}: {verdict}" if answer.confident else f"{path}: no confident match (best guess: {verdict})"
    others = ", ".join(f"{m.title} ({m.score:.2f})" for m in answer.matches[1:])
    confidence = f"confidence {answer.confidence:.2f}; " if answer.confidence is not None else ""
    timing = f"{answer.timings_ms.get('total', 0):.0f} ms"
    return f"{head}  [{confidence}score {best.score:.2f}; {timing}]" + (f"\n    also: {others}" if others else "")


def _public_key(path: Path | None):
    from device.signing import load_public_key

    return load_public_key(path) if path is not None else None


def query_files(paths: list[Path]) -> list[Path]:
    """The files a query names: a folder stands for the audio files under it, sorted (a session's
    recordings land in one folder); a folder without any stays itself, to get its error line."""
    files: list[Path] = []
    suffixes = audio_suffixes()
    for path in paths:
        inside = [p for p in visible_files(path)[0] if p.suffix.lower() in suffixes] if path.is_dir() else []
        files.extend(inside or [path])
    return files


def run_query(args: argparse.Namespace) -> int:
    from device.signing import SignatureError

    try:
        recognizer = Recognizer(
            load_bundle(args.bundle, public_key=_public_key(args.public_key)), backend=args.backend, threads=args.threads
        )
    except (BundleError, ModelError, SignatureError) as exc:
        print(f"hum-device: cannot use bundle: {exc}", file=sys.stderr)
        return EXIT_BAD_BUNDLE
    failures = 0
    files = query_files(args.files)
    for path in files:
        try:
            if path.is_dir():
                raise AudioError(f"{path}: a folder without audio files ({' '.join(audio_suffixes())})")
            answer = recognizer.recognize_file(path, top=max(args.top, 1))
        except (AudioError, QueryError, ModelError) as exc:
            failures += 1
            message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            print(json.dumps({"file": str(path), "error": message}) if args.json else f"{path}: error: {message}", flush=True)
            continue
        print(json.dumps({"file": str(path), **answer.to_dict()}) if args.json else format_text(path, answer), flush=True)
    return 1 if failures == len(files) else 0


def run_listen(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from device.capture import MicrophoneCapture
    from device.controls import FeedbackGroup, LedFeedback, SpokenFeedback, make_button
    from device.listen import ListenLoop, StopRules
    from device.profile import ProfileError, load_profile

    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(f"hum-device: {exc}", file=sys.stderr)
        return EXIT_BAD_BUNDLE
    if args.input is not None:
        profile = replace(profile, audio=replace(profile.audio, input=args.input))
    if args.pin is not None:
        profile = replace(profile, button=replace(profile.button, pin=args.pin))
    from device.install import BundleWatcher, load_serving_bundle

    bundle_path = args.bundle or (Path(profile.device.bundle) if profile.device.bundle else DEFAULT_BUNDLE)
    try:
        public_key = profile.load_public_key()
        bundle = load_serving_bundle(bundle_path, public_key=public_key)
        recognizer = Recognizer(bundle, backend=profile.device.backend, threads=profile.device.threads, search=profile.search_config())
    except ProfileError as exc:
        print(f"hum-device: {exc}", file=sys.stderr)
        return EXIT_BAD_BUNDLE
    except (BundleError, ModelError) as exc:
        print(f"hum-device: cannot use bundle: {exc}", file=sys.stderr)
        return EXIT_BAD_BUNDLE
    feedback = []
    if profile.button.led_pin >= 0:
        try:
            feedback.append(LedFeedback(profile.button.led_pin))
        except Exception as exc:  # gpiozero raises several types when a pin is unusable
            logger.warning("no status LED on GPIO%d: %s", profile.button.led_pin, exc)
    if profile.answer.speak:
        feedback.append(SpokenFeedback())
    rules = StopRules(
        min_seconds=profile.capture.min_seconds,
        silence_stop_seconds=profile.capture.silence_stop_seconds,
        silence_dbfs=profile.capture.silence_dbfs,
        stall_seconds=profile.capture.stall_seconds,
    )
    loop = ListenLoop(
        recognizer,
        MicrophoneCapture(profile.capture_config(), recognizer.frontend_config.sample_rate),
        make_button(profile.button.pin, profile.button.bounce_ms),
        rules=rules,
        feedback=FeedbackGroup(feedback),
        top=profile.answer.top,
        emit=answer_log(profile.answer.log),
        refresh=BundleWatcher(
            bundle_path,
            lambda path: Recognizer(
                load_bundle(path, public_key=public_key),
                backend=profile.device.backend,
                threads=profile.device.threads,
                search=profile.search_config(),
            ),
        ).check,
    )
    logger.info("serving %s with %d songs", recognizer.bundle.path, len(recognizer.bundle.songs))
    try:
        loop.serve(max_presses=args.presses)
    except KeyboardInterrupt:
        pass
    return 0


def run_install(args: argparse.Namespace) -> int:
    from device.install import install_bundle
    from device.profile import ProfileError, load_profile
    from device.signing import SignatureError

    try:
        profile = load_profile(args.profile)
        public_key = _public_key(args.public_key) if args.public_key else profile.load_public_key()
    except (ProfileError, SignatureError) as exc:
        print(f"hum-device: {exc}", file=sys.stderr)
        return EXIT_BAD_BUNDLE
    target = args.target or (Path(profile.device.bundle) if profile.device.bundle else None)
    if target is None:
        print("hum-device: no target: set device.bundle in the profile or pass --target", file=sys.stderr)
        return EXIT_BAD_BUNDLE
    try:
        bundle = install_bundle(args.bundle, target, public_key=public_key, backend=profile.device.backend)
    except (BundleError, ModelError) as exc:
        print(f"hum-device: not installed, {target} unchanged: {exc}", file=sys.stderr)
        return EXIT_BAD_BUNDLE
    print(f"installed {args.bundle} as {target}: {len(bundle.songs)} songs (a running hum-device listen switches to it within a second)")
    return 0


def answer_log(path: str):
    """One JSON line per press on standard output, and in a size-capped rotating file when configured."""
    file_logger = None
    if path:
        from logging.handlers import RotatingFileHandler

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        file_logger = logging.getLogger("hum-device.answers")
        file_logger.propagate = False
        file_logger.setLevel(logging.INFO)
        file_logger.addHandler(RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"))

    def emit(record: dict) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        if file_logger is not None:
            file_logger.info(line)

    return emit


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "query":
        return run_query(args)
    if args.command == "listen":
        return run_listen(args)
    if args.command == "install":
        return run_install(args)
    if args.command == "doctor":
        from device.doctor import run_doctor

        return run_doctor(args.profile, DEFAULT_BUNDLE)
    return 2


if __name__ == "__main__":
    sys.exit(main())
