"""``hum-index``: build, extend, inspect, verify and sign catalog bundles on the workstation.

    hum-index build CATALOG_DIR -o OUT.humbundle [--workers N] [--key K.key] [--cache DIR | --no-cache] [--song-hop FRAMES]
    hum-index add BUNDLE NEW_SONGS_DIR [-o OUT.humbundle] [--key K.key]
    hum-index info BUNDLE [--json]
    hum-index verify BUNDLE [--public-key K.pub]
    hum-index keygen -o NAME          (writes NAME.key, private, and NAME.pub for the speakers)

Songs are embedded in parallel worker processes, each one cached on disk as soon as it is done
(a rerun after a crash starts where it stopped); a file that cannot be read is reported and
skipped (listed again in a summary at the end), and the build goes on. Exit status: 0 done,
1 nothing usable, 2 bad arguments, catalog, bundle or key.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from device import signing
from device.audio_io import audio_suffixes
from device.bundle import MELODY_MEMBER, BundleError, load_bundle, read_manifest
from device.encoder_runtime import ModelError, OnnxEncoder
from device.frontend import FrontEndConfig
from device.recognizer import Recognizer
from device.windows import WindowConfig
from index_builder.bundle_writer import write_bundle
from index_builder.catalog import CatalogError, scan_catalog
from index_builder.embed import NO_TEMPLATES
from index_builder.embed_cache import EmbeddingCache, default_cache_dir
from index_builder.embed_catalog import CatalogEmbedding, cache_settings, embed_catalog, hash_entries
from index_builder.extend import bundle_template_versions, extend_bundle, mixed_contours_warning, mixed_templates_warning, plan_additions
from index_builder.footprint import index_megabytes, memory_advice
from models.melody import MELODY_SUFFIXES

logger = logging.getLogger("hum-index")

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "weights" / "encoder_int8.onnx"
DEFAULT_TFLITE_MODEL = DEFAULT_MODEL.with_suffix(".tflite")


class UsageError(ValueError):
    """Something the operator must fix before anything is written; printed without a traceback."""


def _signing_key(path: Path | None):
    if path is None:
        return None
    try:
        return signing.load_private_key(path)
    except signing.SignatureError as exc:
        raise UsageError(str(exc)) from exc


def _cache(
    args: argparse.Namespace, model: bytes, frontend: FrontEndConfig, windows: WindowConfig, templates: bool = True
) -> EmbeddingCache | None:
    return None if args.no_cache else EmbeddingCache(args.cache, cache_settings(model, frontend, windows, templates))


def _report_skipped(errors: list[str], total: int) -> None:
    if errors:
        print(f"skipped {len(errors)} of {total} files:", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)


def _summary(out: Path, n_songs: int, n_vectors: int, signed: bool, windows: WindowConfig, frame_rate: float) -> str:
    """The line a build or add ends with; warns first when the index is too big for a small speaker."""
    advice = memory_advice(n_vectors, windows.song_hop, frame_rate)
    if advice:
        logger.warning("%s: %s", out, advice)
    return (
        f"wrote {out}: {n_songs} songs, {n_vectors} windows (~{index_megabytes(n_vectors):.1f} MB in a speaker's memory), "
        f"{out.stat().st_size / 1e6:.2f} MB, {'signed' if signed else 'unsigned'}"
    )


def run_build(args: argparse.Namespace) -> int:
    entries = scan_catalog(args.catalog)
    try:
        model = args.model.read_bytes()
        tflite_model = None if args.no_tflite or args.tflite_model is None else args.tflite_model.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read model: {exc}") from exc
    encoder = OnnxEncoder(model)
    key = _signing_key(args.key)
    frontend, windows = FrontEndConfig(), WindowConfig()
    if args.song_hop:
        windows = replace(windows, song_hop=args.song_hop)
    if (encoder.input_frames, encoder.input_bands) != (windows.length, frontend.n_bands):
        raise UsageError(
            f"{args.model} takes {encoder.input_frames}x{encoder.input_bands} windows; "
            f"this builder makes {windows.length}x{frontend.n_bands}"
        )
    templates = not args.no_sung_templates
    cache = _cache(args, model, frontend, windows, templates)
    result = embed_catalog(entries, model, args.workers, frontend, windows, cache, templates=templates)
    if not result.songs:
        print(f"hum-index: none of the {len(entries)} files could be used; nothing written", file=sys.stderr)
        _report_skipped(result.errors, len(entries))
        return 1
    vectors = result.stacked()
    write_bundle(
        args.output,
        model,
        result.songs,
        vectors,
        frontend,
        windows,
        tflite_model=tflite_model,
        signing_key=key,
        contours=result.contours,
        contour_estimated=result.contour_estimated,
        templates=templates,
    )
    summary = _summary(args.output, len(result.songs), len(vectors), key is not None, windows, frontend.frame_rate)
    print(summary + f" ({result.from_cache} songs from the cache)")
    _report_skipped(result.errors, len(entries))
    return 0


def run_add(args: argparse.Namespace) -> int:
    key = _signing_key(args.key)
    bundle = load_bundle(args.bundle, expected_frontend=None)
    out = args.output or args.bundle
    entries = scan_catalog(args.new_songs)
    hashes = hash_entries(entries)
    plan = plan_additions(bundle, entries, hashes)
    for line in plan.already_present:
        logger.info("already in the bundle: %s", line)
    frontend, windows = bundle.frontend, bundle.windows
    for mixed in (mixed_contours_warning(bundle), mixed_templates_warning(bundle, plan.to_embed)) if plan.to_embed else ():
        if mixed:
            logger.warning("%s: %s", args.bundle, mixed)
    if plan.to_embed:
        templates = bundle_template_versions(bundle) != [NO_TEMPLATES]  # as the bundle was built
        added = embed_catalog(
            plan.to_embed,
            bundle.model,
            args.workers,
            frontend,
            windows,
            _cache(args, bundle.model, frontend, windows, templates),
            len(bundle.vector_song),
            hashes,
            templates,
        )
    else:
        added = CatalogEmbedding()
    errors = plan.conflicts + added.errors
    if not added.songs:
        print(
            f"hum-index: no new songs to add ({len(plan.already_present)} already in the bundle, {len(errors)} unusable); "
            f"{args.bundle} unchanged",
            file=sys.stderr,
        )
        _report_skipped(errors, len(entries))
        return 1 if errors else 0
    if bundle.signed and key is None:
        logger.warning("%s was signed; the new bundle is NOT (pass --key): speakers with a public key will refuse it", args.bundle)
    extend_bundle(bundle, added, out, key)
    total_vectors = len(bundle.vector_song) + sum(len(v) for v in added.vectors)
    summary = _summary(out, len(bundle.songs) + len(added.songs), total_vectors, key is not None, windows, frontend.frame_rate)
    print(summary + f" (+{len(added.songs)} songs)")
    _report_skipped(errors, len(entries))
    return 0


def run_info(args: argparse.Namespace) -> int:
    manifest, _, signature = read_manifest(args.bundle)
    if args.json:
        print(json.dumps({"file": str(args.bundle), "signed": signature is not None, **manifest}, indent=2))
        return 0
    counts = manifest.get("counts", {})
    rows = [
        ("file", f"{args.bundle} ({args.bundle.stat().st_size / 1e6:.2f} MB)"),
        ("format version", manifest.get("format_version")),
        ("created (UTC)", manifest.get("created_utc")),
        ("builder version", manifest.get("builder_version")),
        ("songs / windows", f"{counts.get('songs')} / {counts.get('vectors')}"),
        ("index in memory", f"~{index_megabytes(counts.get('vectors') or 0):.1f} MB on a speaker"),
        ("embedding", f"{manifest.get('embedding_dim')} values, {manifest.get('metric')}"),
        ("model sha256", manifest.get("model_sha256")),
        ("encoder formats", ", ".join(sorted(manifest.get("models", {"onnx": ""})))),
        ("windows", manifest.get("windows")),
        ("contour versions", _contour_versions(manifest)),
        ("signature", f"Ed25519, key {manifest.get('signed_by')}" if signature is not None else "none (unsigned)"),
    ]
    for name, value in rows:
        print(f"{name:>16}: {value}")
    return 0


def _contour_versions(manifest: dict) -> str:
    if MELODY_MEMBER not in manifest.get("members", {}):
        return "no melody contours"
    return ", ".join("unrecorded" if v is None else str(v) for v in manifest.get("contour_versions", [None]))


def run_verify(args: argparse.Namespace) -> int:
    public_key = None
    if args.public_key is not None:
        try:
            public_key = signing.load_public_key(args.public_key)
        except signing.SignatureError as exc:
            raise UsageError(str(exc)) from exc
    bundle = load_bundle(args.bundle, public_key=public_key)
    Recognizer(bundle)  # the encoder loads and fits the manifest
    signed = "signature good" if public_key is not None else ("signed, not checked (no --public-key)" if bundle.signed else "unsigned")
    print(f"ok: {args.bundle}: {len(bundle.songs)} songs, {len(bundle.vector_song)} windows, checksums good, {signed}")
    return 0


def run_keygen(args: argparse.Namespace) -> int:
    private, public = args.output.with_suffix(".key"), args.output.with_suffix(".pub")
    try:
        key = signing.generate_keypair(private, public)
    except signing.SignatureError as exc:
        raise UsageError(str(exc)) from exc
    print(f"wrote {private} (private: keep it on the workstation, sign with --key) and {public} (copy to speakers); key id {key}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hum-index", description="Build humming-recognition catalog bundles.")
    parser.add_argument("--debug", action="store_true", help="verbose logging")
    commands = parser.add_subparsers(dest="command", required=True)

    def embedding_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1), help="parallel worker processes")
        command.add_argument("--key", type=Path, help="sign the bundle with this Ed25519 private key (hum-index keygen)")
        command.add_argument("--cache", type=Path, default=default_cache_dir(), help="embedding cache folder (default: %(default)s)")
        command.add_argument("--no-cache", action="store_true", help="neither read nor write the embedding cache")

    build = commands.add_parser("build", help="embed a folder of songs into a bundle")
    song_files = " ".join(audio_suffixes() + MELODY_SUFFIXES)
    build.add_argument("catalog", type=Path, help=f"folder of {song_files} files (+ optional catalog.csv)")
    build.add_argument("-o", "--output", type=Path, required=True, help="bundle file to write (e.g. catalog.humbundle)")
    build.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="encoder ONNX model (default: the shipped int8 model)")
    build.add_argument(
        "--tflite-model",
        type=Path,
        default=DEFAULT_TFLITE_MODEL if DEFAULT_TFLITE_MODEL.exists() else None,
        help="the same encoder as TFLite, carried for the litert / tflite-runtime backends (default: the shipped one)",
    )
    build.add_argument("--no-tflite", action="store_true", help="carry only the ONNX encoder")
    build.add_argument(
        "--song-hop", type=int, default=0, help="frames between song windows (default 25 = 1 s; larger = smaller index for huge catalogs)"
    )
    build.add_argument(
        "--no-sung-templates",
        action="store_true",
        help="melody files only on the catalog instrument, not also sung (half their windows; the embedding finds fewer hums)",
    )
    embedding_options(build)

    add = commands.add_parser("add", help="add new songs to an existing bundle (no re-embedding, no retraining)")
    add.add_argument("bundle", type=Path, help="the bundle to extend")
    add.add_argument("new_songs", type=Path, help="folder of new song files (+ optional catalog.csv)")
    add.add_argument("-o", "--output", type=Path, help="write here instead of replacing BUNDLE (atomically)")
    embedding_options(add)

    info = commands.add_parser("info", help="what a bundle holds (reads the manifest only)")
    info.add_argument("bundle", type=Path)
    info.add_argument("--json", action="store_true", help="the whole manifest as JSON")

    verify = commands.add_parser("verify", help="check every checksum, the index, the encoder and (with a key) the signature")
    verify.add_argument("bundle", type=Path)
    verify.add_argument("--public-key", type=Path, help="require a good signature by this key (PEM)")

    keygen = commands.add_parser("keygen", help="make an Ed25519 key pair for signing bundles")
    keygen.add_argument("-o", "--output", type=Path, required=True, help="writes OUTPUT.key (private) and OUTPUT.pub (public)")
    return parser


COMMANDS = {"build": run_build, "add": run_add, "info": run_info, "verify": run_verify, "keygen": run_keygen}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except BundleError as exc:
        print(f"hum-index: bad bundle: {exc}", file=sys.stderr)
        return 2
    except (UsageError, CatalogError, ModelError) as exc:
        print(f"hum-index: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
