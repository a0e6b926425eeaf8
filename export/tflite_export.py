"""TFLite export of the encoder with litert-torch: float, and int8 by PT2E static quantization.

litert-torch converts a ``torch.export`` program straight to a TFLite flatbuffer (no TensorFlow).
For int8, the exported program gets PT2E observers (per-channel symmetric int8 weights, int8
activations from a histogram observer), is calibrated on real front-end windows of hums and
recordings, and is converted with the quantizer attached, which gives a fully int8 model whose
input and output tensors are int8 too (the device (de)quantizes with their scale and zero point).

The models have a fixed batch of one: the converted reshapes carry it, and a speaker embeds a
window at a time anyway. The L2 normalisation stays outside the model (TFLite int8 has no Sqrt).

litert-torch is large (~1.3 GB with its converter); it lives in the ``tflite-export`` extra and is
imported only here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.encoder import HumEncoder


def _litert():
    try:
        import litert_torch
    except ImportError as exc:
        raise RuntimeError('TFLite export needs litert-torch: pip install -e ".[tflite-export]"') from exc
    return litert_torch


def export_tflite_float(model: HumEncoder, path: Path) -> Path:
    """Writes the float TFLite model (input (1, frames, bands) float32)."""
    litert_torch = _litert()
    model = model.eval()
    example = (torch.zeros(1, model.config.n_frames, model.config.n_bands),)
    litert_torch.convert(model, example).export(str(path))
    return path


def export_tflite_int8(model: HumEncoder, path: Path, calibration_windows: np.ndarray) -> Path:
    """Writes the int8 TFLite model, calibrated on ``calibration_windows`` (N, frames, bands) standardised."""
    litert_torch = _litert()
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    model = model.eval()
    example = (torch.from_numpy(np.ascontiguousarray(calibration_windows[:1], dtype=np.float32)),)
    program = torch.export.export(model, example).module()
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    prepared = quantize_pt2e.prepare_pt2e(program, quantizer)
    with torch.no_grad():
        for window in calibration_windows:
            prepared(torch.from_numpy(np.ascontiguousarray(window[None], dtype=np.float32)))
    quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    litert_torch.convert(quantized, example, quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(path))
    return path
