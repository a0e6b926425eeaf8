"""ONNX export of the encoder and int8 static quantization calibrated on real front-end features.

The float model is exported with a dynamic batch axis and fixed (frames, bands). The int8 model is
QDQ-format static quantization by onnxruntime's quantizer: per-channel int8 weights, uint8
activations, ranges calibrated on windows of hums and recordings computed by the device's own
front end (never random tensors, whose ranges look nothing like real audio).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import torch

from models.encoder import HumEncoder

logger = logging.getLogger(__name__)

INPUT_NAME = "windows"
OUTPUT_NAME = "embedding"
OPSET = 17


def export_float(model: HumEncoder, path: Path) -> Path:
    """Writes the float ONNX model (batch axis dynamic)."""
    model = model.eval()
    example = torch.zeros(2, model.config.n_frames, model.config.n_bands)
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )
    return path


class _WindowReader:
    """Feeds calibration windows to the quantizer in small batches."""

    def __init__(self, windows: np.ndarray, batch: int = 32) -> None:
        self._batches = iter([{INPUT_NAME: windows[i : i + batch]} for i in range(0, len(windows), batch)])

    def get_next(self) -> dict | None:
        return next(self._batches, None)


def quantize_int8(float_path: Path, int8_path: Path, calibration_windows: np.ndarray) -> Path:
    """Static int8 quantization (QDQ, per-channel weights) calibrated on ``calibration_windows``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quant_pre_process, quantize_static

    class Reader(_WindowReader, CalibrationDataReader):
        pass

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(int8_path),
            Reader(np.ascontiguousarray(calibration_windows, dtype=np.float32)),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    return int8_path
