"""Command: trained weights -> the shipped device models and their metadata.

    python -m export.build_models --weights .cache/train/encoder.npz --calibration .cache/val_pairs --out models/weights [--tflite]

Writes ``encoder_fp32.onnx``, ``encoder_int8.onnx`` and ``encoder.json`` (architecture, front-end
and window parameters, float-vs-int8 agreement on the calibration windows); with ``--tflite``
(needs the ``tflite-export`` extra, and ai-edge-litert to check the result) also
``encoder_fp32.tflite`` and ``encoder_int8.tflite``, calibrated on the same windows.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from device.encoder_runtime import OnnxEncoder
from device.frontend import FrontEndConfig
from device.windows import WindowConfig, standardise
from export.onnx_export import export_float, quantize_int8
from models.dataset import load_shards
from models.encoder import load_weights

logger = logging.getLogger(__name__)


def calibration_windows(shard_dir: Path, length: int, count: int, seed: int = 0) -> np.ndarray:
    """Centre windows of held-out hums and recordings, standardised like on the device."""
    hums, recordings, _ = load_shards(sorted(shard_dir.glob("shard_*.npz")))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(hums), min(count // 2, len(hums)), replace=False)
    start = (hums.shape[1] - length) // 2
    clips = np.concatenate([hums[pick], recordings[pick]])[:, start : start + length].astype(np.float32)
    return standardise(clips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=Path(".cache/train/encoder.npz"))
    parser.add_argument("--calibration", type=Path, default=Path(".cache/val_pairs"))
    parser.add_argument("--out", type=Path, default=Path("models/weights"))
    parser.add_argument("--windows", type=int, default=400, help="calibration windows")
    parser.add_argument("--tflite", action="store_true", help="also export TFLite float and int8 models (litert-torch)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    model = load_weights(str(args.weights))
    float_path = export_float(model, args.out / "encoder_fp32.onnx")
    windows = calibration_windows(args.calibration, model.config.n_frames, args.windows)
    int8_path = quantize_int8(float_path, args.out / "encoder_int8.onnx", windows)
    reference = OnnxEncoder(float_path.read_bytes()).embed(windows)
    quantized = OnnxEncoder(int8_path.read_bytes()).embed(windows)
    cosine = np.sum(reference * quantized, axis=1)
    agreement = {"onnx_int8": {"mean": round(float(cosine.mean()), 4), "min": round(float(cosine.min()), 4)}}
    sizes = {"fp32": float_path.stat().st_size, "int8": int8_path.stat().st_size}
    if args.tflite:
        from device.encoder_runtime import TfliteEncoder
        from export.tflite_export import export_tflite_float, export_tflite_int8

        paths = {
            "tflite_fp32": export_tflite_float(model, args.out / "encoder_fp32.tflite"),
            "tflite_int8": export_tflite_int8(model, args.out / "encoder_int8.tflite", windows),
        }
        for name, path in paths.items():
            embedded = TfliteEncoder(path.read_bytes(), runtime="litert").embed(windows)
            agreement[name] = {
                "mean": round(float(np.sum(reference * embedded, axis=1).mean()), 4),
                "min": round(float(np.sum(reference * embedded, axis=1).min()), 4),
            }
            sizes[name] = path.stat().st_size
    metadata = {
        "encoder": model.config.to_dict(),
        "frontend": FrontEndConfig().to_dict(),
        "windows": WindowConfig().to_dict(),
        "int8_vs_float_cosine": {"mean": round(float(cosine.mean()), 4), "min": round(float(cosine.min()), 4), "windows": len(windows)},
        "vs_float_onnx_cosine": agreement,
        "sizes_bytes": sizes,
    }
    (args.out / "encoder.json").write_text(json.dumps(metadata, indent=2) + "\n")
    print(json.dumps(metadata, indent=2))


if __name__ == "__main__":
    main()
