"""Every encoder backend that installs here answers like onnxruntime; bundles refuse models that do not fit them."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from device.bundle import BundleError, load_bundle
from device.cli import main as device_main
from device.encoder_runtime import BACKENDS, ModelError, TfliteEncoder
from device.frontend import FrontEndConfig
from device.recognizer import Recognizer
from device.windows import WindowConfig
from index_builder.bundle_writer import write_bundle
from index_builder.cli import DEFAULT_MODEL, DEFAULT_TFLITE_MODEL
from tests.conftest import make_hum

RUNTIME_MODULE = {"onnx": "onnxruntime", "litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime"}
INSTALLED = [b for b in BACKENDS if importlib.util.find_spec(RUNTIME_MODULE[b]) is not None]


def test_the_shipped_bundle_models_include_tflite(bundle_path):
    bundle = load_bundle(bundle_path)
    assert set(bundle.models) == {"onnx", "tflite"}
    assert bundle.manifest["models"] == {"onnx": "encoder.onnx", "tflite": "encoder.tflite"}


@pytest.mark.parametrize("backend", INSTALLED)
def test_every_installed_backend_ranks_the_same_song_first(bundle_path, tunes, backend):
    reference = Recognizer(load_bundle(bundle_path), backend="onnx")
    recognizer = Recognizer(load_bundle(bundle_path), backend=backend)
    for i in (0, 3, 5):
        hum = make_hum(tunes[i], seed=60 + i, transpose=-4.0)
        expected, answer = reference.recognize_audio(hum, top=3), recognizer.recognize_audio(hum, top=3)
        assert answer.matches[0].song_id == expected.matches[0].song_id == recognizer.bundle.songs[i].song_id
        assert answer.matches[0].score == pytest.approx(expected.matches[0].score, abs=0.03)


@pytest.mark.skipif("litert" not in INSTALLED, reason="ai-edge-litert is not installed")
def test_int8_tflite_embeddings_agree_with_onnx():
    windows = np.random.default_rng(3).standard_normal((6, 125, 144)).astype(np.float32)
    from device.encoder_runtime import OnnxEncoder

    onnx_vectors = OnnxEncoder(DEFAULT_MODEL.read_bytes()).embed(windows)
    tflite = TfliteEncoder(DEFAULT_TFLITE_MODEL.read_bytes())
    assert (tflite.input_frames, tflite.input_bands, tflite.embedding_dim) == (125, 144, 64)
    assert np.mean(np.sum(onnx_vectors * tflite.embed(windows), axis=1)) > 0.98


def test_cli_query_with_the_litert_backend(bundle_path, tunes, tmp_path, capsys):
    if "litert" not in INSTALLED:
        pytest.skip("ai-edge-litert is not installed")
    import soundfile as sf

    sf.write(tmp_path / "hum.wav", make_hum(tunes[2], seed=70), 16000)
    assert device_main(["query", "--bundle", str(bundle_path), "--backend", "litert", "--json", str(tmp_path / "hum.wav")]) == 0
    assert '"song2.mid"' in capsys.readouterr().out.splitlines()[0]


def small_bundle(path, windows: WindowConfig, tflite: bool = True):
    vectors = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    from device.bundle import Song

    songs = [Song("a", "A", "", "", 10.0, 0, 2), Song("b", "B", "", "", 10.0, 2, 2)]
    tflite_model = DEFAULT_TFLITE_MODEL.read_bytes() if tflite else None
    return write_bundle(path, DEFAULT_MODEL.read_bytes(), songs, vectors, FrontEndConfig(), windows, tflite_model=tflite_model)


@pytest.mark.parametrize("backend", INSTALLED)
def test_model_that_disagrees_with_the_manifest_is_refused(tmp_path, backend):
    bundle = load_bundle(small_bundle(tmp_path / "b.humbundle", WindowConfig(length=100)))
    with pytest.raises(BundleError, match=r"encoder takes \(frames, bands\) = \(125, 144\).*manifest says \(100, 144\)"):
        Recognizer(bundle, backend=backend)


def test_bundle_without_tflite_names_what_it_has(tmp_path):
    bundle = load_bundle(small_bundle(tmp_path / "b.humbundle", WindowConfig(), tflite=False))
    with pytest.raises(BundleError, match="carries no tflite encoder"):
        Recognizer(bundle, backend="litert")
    with pytest.raises(ModelError, match="unknown encoder backend"):
        Recognizer(bundle, backend="coreml")


def test_corrupt_tflite_model_is_a_model_error():
    if "litert" not in INSTALLED:
        pytest.skip("ai-edge-litert is not installed")
    with pytest.raises(ModelError, match="cannot load TFLite encoder"):
        TfliteEncoder(b"not a flatbuffer" * 10)
