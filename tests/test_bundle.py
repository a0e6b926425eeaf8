"""Bad bundles are refused with a clear message, never a traceback."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest

from device.bundle import BundleError, load_bundle
from device.cli import main as device_main
from device.frontend import FrontEndConfig


def rewrite(src, dst, change):
    """Copies bundle ``src`` to ``dst`` with ``change(name, data) -> (name, data) | None`` applied."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            result = change(info.filename, zin.read(info))
            if result is not None:
                zout.writestr(result[0], result[1])
    return dst


def edit_manifest(src, dst, edit):
    def change(name, data):
        if name == "manifest.json":
            manifest = json.loads(data)
            edit(manifest)
            return name, json.dumps(manifest)
        return name, data

    return rewrite(src, dst, change)


def test_good_bundle_loads(bundle_path):
    assert load_bundle(bundle_path).manifest["format_version"] == 1


def test_truncated(bundle_path, tmp_path):
    bad = tmp_path / "cut.humbundle"
    bad.write_bytes(bundle_path.read_bytes()[: bundle_path.stat().st_size // 2])
    with pytest.raises(BundleError, match="not a readable zip|truncated|damaged"):
        load_bundle(bad)


def test_flipped_byte_in_index(bundle_path, tmp_path):
    def change(name, data):
        if name == "index.hnsw":
            data = bytearray(data)
            data[len(data) // 2] ^= 0xFF
            data = bytes(data)
        return name, data

    with pytest.raises(BundleError, match="checksum mismatch for 'index.hnsw'"):
        load_bundle(rewrite(bundle_path, tmp_path / "flip.humbundle", change))


def test_not_a_zip(tmp_path):
    bad = tmp_path / "text.humbundle"
    bad.write_text("hello")
    with pytest.raises(BundleError, match="not a readable zip"):
        load_bundle(bad)


def test_wrong_format_version(bundle_path, tmp_path):
    bad = edit_manifest(bundle_path, tmp_path / "v9.humbundle", lambda m: m.update(format_version=9))
    with pytest.raises(BundleError, match="format version 9"):
        load_bundle(bad)


def test_wrong_embedding_size(bundle_path, tmp_path):
    bad = edit_manifest(bundle_path, tmp_path / "dim.humbundle", lambda m: m.update(embedding_dim=32))
    with pytest.raises(BundleError, match="size"):
        load_bundle(bad)


def test_absurd_counts(bundle_path, tmp_path):
    bad = edit_manifest(bundle_path, tmp_path / "count.humbundle", lambda m: m["counts"].update(songs=10**9))
    with pytest.raises(BundleError, match="song table has"):
        load_bundle(bad)


def test_mismatched_front_end(bundle_path):
    with pytest.raises(BundleError, match="front end"):
        load_bundle(bundle_path, expected_frontend=FrontEndConfig(n_bands=120))


@pytest.mark.parametrize("name", ["../evil.txt", "sub/dir.txt", ".hidden"])
def test_traversal_and_nested_names(bundle_path, tmp_path, name):
    bad = tmp_path / "evil.humbundle"
    shutil.copy(bundle_path, bad)
    with zipfile.ZipFile(bad, "a") as archive:
        archive.writestr(name, b"x")
    with pytest.raises(BundleError, match="refusing member"):
        load_bundle(bad)


def test_unlisted_member(bundle_path, tmp_path):
    bad = tmp_path / "extra.humbundle"
    shutil.copy(bundle_path, bad)
    with zipfile.ZipFile(bad, "a") as archive:
        archive.writestr("payload.bin", b"x")
    with pytest.raises(BundleError, match="not listed"):
        load_bundle(bad)


def test_missing_member(bundle_path, tmp_path):
    bad = rewrite(bundle_path, tmp_path / "nomodel.humbundle", lambda n, d: None if n == "encoder.onnx" else (n, d))
    with pytest.raises(BundleError, match="missing member 'encoder.onnx'"):
        load_bundle(bad)


def test_cli_refuses_bad_bundle_cleanly(bundle_path, tmp_path, capsys):
    bad = tmp_path / "cut.humbundle"
    bad.write_bytes(bundle_path.read_bytes()[:1000])
    assert device_main(["query", "--bundle", str(bad), "--json", "x.wav"]) == 2
    err = capsys.readouterr().err
    assert "cannot use bundle" in err and "Traceback" not in err


def test_manifest_without_counts(bundle_path, tmp_path):
    bad = edit_manifest(bundle_path, tmp_path / "nocounts.humbundle", lambda m: m.pop("counts"))
    with pytest.raises(BundleError):
        load_bundle(bad)


def test_manifest_without_search_settings(bundle_path, tmp_path):
    bad = edit_manifest(bundle_path, tmp_path / "nosearch.humbundle", lambda m: m.pop("search"))
    with pytest.raises(BundleError, match="search"):
        load_bundle(bad)


def test_old_pitch_class_melodies_load_without_the_melody_stage(bundle_path, tmp_path, caplog):
    """A bundle from before octave-aware contours still answers, by embedding alone, and says so."""
    import hashlib
    import io

    import numpy as np

    from device.recognizer import Recognizer

    with zipfile.ZipFile(bundle_path) as zin:
        with np.load(io.BytesIO(zin.read("melodies.npz"))) as arrays:
            values, offsets = arrays["values"], arrays["offsets"]
    buffer = io.BytesIO()
    np.savez(buffer, values=(values % 36).astype(np.uint8), offsets=offsets)  # the old format: no "encoding"
    old = buffer.getvalue()

    def change(name, data):
        if name == "melodies.npz":
            return name, old
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["members"]["melodies.npz"] = hashlib.sha256(old).hexdigest()
            return name, json.dumps(manifest)
        return name, data

    bundle = load_bundle(rewrite(bundle_path, tmp_path / "old.humbundle", change))
    assert bundle.contour_values is None
    assert "old pitch-class encoding" in caplog.text
    answer = Recognizer(bundle).recognize_audio(np.random.default_rng(0).normal(0, 0.1, 16000 * 6).astype(np.float32))
    assert "melody" not in answer.timings_ms and answer.matches


def test_confidence_fitted_on_older_scores_is_replaced(bundle_path, tmp_path, caplog):
    """A bundle whose confidence weights were fitted on another score formula (before session 9 the
    melody costs were charged linearly, and such manifests name none) gets this release's calibration."""
    from device.recognizer import Decision, Recognizer
    from device.search import SCORE_SCALE

    def old_weights(manifest):
        manifest["decision"] = {"min_score": 0.5, "min_margin": 0.06, "weights": [9.0, 9.0, 9.0], "min_confidence": 0.6}

    old = edit_manifest(bundle_path, tmp_path / "old.humbundle", old_weights)
    with caplog.at_level("WARNING"):
        recognizer = Recognizer(load_bundle(old))
    assert "older search" in caplog.text
    bundle = load_bundle(old)
    assert recognizer.decision == Decision.for_catalog(bundle.contour_estimated)
    assert recognizer.decision.weights != (9.0, 9.0, 9.0)

    def current_weights(manifest):
        manifest["decision"] = {"weights": [9.0, 9.0, 9.0], "score_scale": SCORE_SCALE}

    current = edit_manifest(bundle_path, tmp_path / "current.humbundle", current_weights)
    assert Recognizer(load_bundle(current)).decision.weights == (9.0, 9.0, 9.0)
