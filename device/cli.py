"""``hum-device``: the speaker's command line.

    hum-device query [--bundle B.humbundle] [--json] [--top N] FILE...

With ``--json``, one JSON object per line per file, as DESIGN's command-line contract says:
``{"file", "matches": [{"title", "artist", "song_id", "score"}...], "confident", "timings_ms"}``,
or ``{"file", "error"}`` for a file that cannot be answered; the other files still run. Without a
``--bundle``, the demo bundle shipped in the repository is used.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from device.audio_io import AudioError
from device.bundle import BundleError, load_bundle
from device.encoder_runtime import BACKENDS, ModelError
from device.recognizer import Answer, QueryError, Recognizer

logger = logging.getLogger("hum-device")

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "demo" / "demo.humbundle"
EXIT_BAD_BUNDLE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hum-device", description="Offline humming recognizer (device side).")
    parser.add_argument("--debug", action="store_true", help="verbose logging")
    commands = parser.add_subparsers(dest="command", required=True)
    query = commands.add_parser("query", help="recognise recorded hums from files")
    query.add_argument("files", nargs="+", type=Path, help="audio files (.wav .flac .ogg .mp3, any rate/depth/channels)")
    query.add_argument(
        "--bundle", type=Path, default=DEFAULT_BUNDLE, help=f"catalog bundle (default: {DEFAULT_BUNDLE.name} shipped with the repo)"
    )
    query.add_argument("--json", action="store_true", help="one JSON object per line per file")
    query.add_argument("--top", type=int, default=5, help="number of songs to list (default 5)")
    query.add_argument("--backend", choices=BACKENDS, default="onnx", help="encoder runtime")
    query.add_argument("--threads", type=int, default=1, help="encoder threads")
    return parser


def format_text(path: Path, answer: Answer) -> str:
    if not answer.matches:
        return f"{path}: no match"
    best = answer.matches[0]
    verdict = f"{best.title}" + (f" — {best.artist}" if best.artist else "")
    head = f"{path}: {verdict}" if answer.confident else f"{path}: no confident match (best guess: {verdict})"
    others = ", ".join(f"{m.title} ({m.score:.2f})" for m in answer.matches[1:])
    return f"{head}  [score {best.score:.2f}; {answer.timings_ms.get('total', 0):.0f} ms]" + (f"\n    also: {others}" if others else "")


def run_query(args: argparse.Namespace) -> int:
    try:
        recognizer = Recognizer(load_bundle(args.bundle), backend=args.backend, threads=args.threads)
    except (BundleError, ModelError) as exc:
        print(f"hum-device: cannot use bundle: {exc}", file=sys.stderr)
        return EXIT_BAD_BUNDLE
    failures = 0
    for path in args.files:
        try:
            answer = recognizer.recognize_file(path, top=max(args.top, 1))
        except (AudioError, QueryError, ModelError) as exc:
            failures += 1
            message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            print(json.dumps({"file": str(path), "error": message}) if args.json else f"{path}: error: {message}", flush=True)
            continue
        print(json.dumps({"file": str(path), **answer.to_dict()}) if args.json else format_text(path, answer), flush=True)
    return 1 if failures == len(args.files) else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "query":
        return run_query(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
