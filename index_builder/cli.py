"""``hum-index``: build a catalog bundle on the workstation.

    hum-index build CATALOG_DIR -o OUT.humbundle [--workers N] [--model encoder.onnx] [--tflite-model encoder.tflite | --no-tflite]

Songs are embedded in parallel worker processes; a file that cannot be read is reported and skipped
(listed again in a summary at the end), and the build goes on.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from device.audio_io import AudioError
from device.bundle import Song
from device.encoder_runtime import ModelError, OnnxEncoder
from device.frontend import FrontEndConfig
from device.windows import WindowConfig
from index_builder.bundle_writer import write_bundle
from index_builder.catalog import CatalogEntry, CatalogError, file_sha256, scan_catalog
from index_builder.embed import SongEmbedding, embed_song
from models.melody import MelodyError

logger = logging.getLogger("hum-index")

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "weights" / "encoder_int8.onnx"
DEFAULT_TFLITE_MODEL = DEFAULT_MODEL.with_suffix(".tflite")

_worker_encoder: OnnxEncoder | None = None


def _init_worker(model: bytes) -> None:
    global _worker_encoder
    _worker_encoder = OnnxEncoder(model, threads=1)


def _embed_entry(path: Path) -> SongEmbedding | str:
    """Runs in a worker: an embedding, or the error message for this file."""
    try:
        return embed_song(path, _worker_encoder, FrontEndConfig(), WindowConfig())
    except (AudioError, MelodyError, ValueError, OSError) as exc:
        return str(exc) if str(path) in str(exc) else f"{path}: {exc}"


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty() or os.environ.get("HUM_PROGRESS"):
        width = 30
        filled = int(width * done / max(total, 1))
        print(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} songs",
            end="" if done < total else "\n",
            file=sys.stderr,
            flush=True,
        )


def embed_catalog(entries: list[CatalogEntry], model: bytes, workers: int) -> tuple[list[Song], np.ndarray, list[str]]:
    """(song table, stacked vectors, per-file errors) for the catalog entries, in catalog order."""
    songs: list[Song] = []
    vectors: list[np.ndarray] = []
    errors: list[str] = []
    if workers > 1:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(model,))
        results = pool.map(_embed_entry, [e.path for e in entries], chunksize=4)
    else:
        pool = None
        _init_worker(model)
        results = (_embed_entry(e.path) for e in entries)
    first = 0
    try:
        for done, (entry, result) in enumerate(zip(entries, results), start=1):
            if isinstance(result, str):
                errors.append(result)
                logger.warning("skipped: %s", result)
            else:
                songs.append(
                    Song(
                        entry.song_id,
                        entry.title,
                        entry.artist,
                        file_sha256(entry.path),
                        round(result.duration_s, 2),
                        first,
                        len(result.vectors),
                    )
                )
                vectors.append(result.vectors)
                first += len(result.vectors)
            _progress(done, len(entries))
    finally:
        if pool is not None:
            pool.shutdown()
    return songs, (np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)), errors


def run_build(args: argparse.Namespace) -> int:
    try:
        entries = scan_catalog(args.catalog)
        model = args.model.read_bytes()
        encoder = OnnxEncoder(model)
        tflite_model = None if args.no_tflite or args.tflite_model is None else args.tflite_model.read_bytes()
    except (CatalogError, OSError, ModelError) as exc:
        print(f"hum-index: {exc}", file=sys.stderr)
        return 2
    frontend, windows = FrontEndConfig(), WindowConfig()
    if (encoder.input_frames, encoder.input_bands) != (windows.length, frontend.n_bands):
        print(
            f"hum-index: {args.model} takes {encoder.input_frames}x{encoder.input_bands} windows; "
            f"this builder makes {windows.length}x{frontend.n_bands}",
            file=sys.stderr,
        )
        return 2
    logger.info("embedding %d songs with %d workers", len(entries), args.workers)
    songs, vectors, errors = embed_catalog(entries, model, args.workers)
    if not songs:
        print(f"hum-index: none of the {len(entries)} files could be used; nothing written", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    write_bundle(args.output, model, songs, vectors, frontend, windows, tflite_model=tflite_model)
    print(f"wrote {args.output}: {len(songs)} songs, {len(vectors)} windows, {args.output.stat().st_size / 1e6:.2f} MB")
    if errors:
        print(f"skipped {len(errors)} of {len(entries)} files:", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hum-index", description="Build humming-recognition catalog bundles.")
    parser.add_argument("--debug", action="store_true", help="verbose logging")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="embed a folder of songs into a bundle")
    build.add_argument("catalog", type=Path, help="folder of .wav .flac .ogg .mp3 .mid .midi .abc files (+ optional catalog.csv)")
    build.add_argument("-o", "--output", type=Path, required=True, help="bundle file to write (e.g. catalog.humbundle)")
    build.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)), help="parallel worker processes")
    build.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="encoder ONNX model (default: the shipped int8 model)")
    build.add_argument(
        "--tflite-model",
        type=Path,
        default=DEFAULT_TFLITE_MODEL if DEFAULT_TFLITE_MODEL.exists() else None,
        help="the same encoder as TFLite, carried for the litert / tflite-runtime backends (default: the shipped one)",
    )
    build.add_argument("--no-tflite", action="store_true", help="carry only the ONNX encoder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "build":
        return run_build(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
