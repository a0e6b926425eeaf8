"""Export round trip on a small model: ONNX float matches torch, int8 stays close, model files are sane."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from device.encoder_runtime import ModelError, OnnxEncoder, l2_normalise  # noqa: E402
from device.windows import standardise  # noqa: E402
from export.onnx_export import export_float, quantize_int8  # noqa: E402
from models.encoder import EncoderConfig, HumEncoder, load_weights, save_weights  # noqa: E402

SMALL = EncoderConfig(n_bands=144, n_frames=125, widths=(4, 8, 8, 16, 16), embedding_dim=16)


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    model = HumEncoder(SMALL).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, as after training
        model.train()
        for _ in range(3):
            model(torch.randn(16, SMALL.n_frames, SMALL.n_bands))
    return model.eval()


@pytest.fixture(scope="module")
def windows():
    return standardise(np.random.default_rng(0).standard_normal((40, SMALL.n_frames, SMALL.n_bands)).astype(np.float32))


def test_float_onnx_matches_torch(small_model, windows, tmp_path):
    path = export_float(small_model, tmp_path / "m.onnx")
    encoder = OnnxEncoder(path.read_bytes())
    assert (encoder.input_frames, encoder.input_bands, encoder.embedding_dim) == (125, 144, 16)
    with torch.no_grad():
        expected = l2_normalise(small_model(torch.from_numpy(windows)).numpy())
    np.testing.assert_allclose(encoder.embed(windows), expected, atol=1e-4)


def test_int8_is_smaller_and_close(small_model, windows, tmp_path):
    float_path = export_float(small_model, tmp_path / "m.onnx")
    int8_path = quantize_int8(float_path, tmp_path / "m8.onnx", windows[:20])
    reference = OnnxEncoder(float_path.read_bytes()).embed(windows[20:])
    quantized = OnnxEncoder(int8_path.read_bytes()).embed(windows[20:])
    assert np.mean(np.sum(reference * quantized, axis=1)) > 0.95
    import onnx

    ops = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops


def test_weights_round_trip_without_pickle(small_model, windows, tmp_path):
    save_weights(small_model, str(tmp_path / "w.npz"))
    loaded = load_weights(str(tmp_path / "w.npz"))
    x = torch.from_numpy(windows[:4])
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), small_model(x).numpy(), atol=1e-6)


def test_wrong_window_shape_is_refused(small_model, tmp_path):
    encoder = OnnxEncoder(export_float(small_model, tmp_path / "m.onnx").read_bytes())
    with pytest.raises(ModelError, match="expects"):
        encoder.embed(np.zeros((1, 100, 144), np.float32))


def test_garbage_model_is_refused():
    with pytest.raises(ModelError, match="cannot load"):
        OnnxEncoder(b"not a model")


def test_tflite_round_trip_float_and_int8(small_model, windows, tmp_path):
    """litert-torch export (the tflite-export extra) read back by ai-edge-litert; skipped where either is missing."""
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_litert")
    from device.encoder_runtime import TfliteEncoder
    from export.tflite_export import export_tflite_float, export_tflite_int8

    reference = OnnxEncoder(export_float(small_model, tmp_path / "m.onnx").read_bytes()).embed(windows[20:])
    float_model = TfliteEncoder(export_tflite_float(small_model, tmp_path / "m.tflite").read_bytes())
    np.testing.assert_allclose(float_model.embed(windows[20:]), reference, atol=1e-4)
    int8_path = export_tflite_int8(small_model, tmp_path / "m8.tflite", windows[:20])
    int8_model = TfliteEncoder(int8_path.read_bytes())
    assert int8_path.stat().st_size < (tmp_path / "m.tflite").stat().st_size
    assert np.mean(np.sum(int8_model.embed(windows[20:]) * reference, axis=1)) > 0.95
