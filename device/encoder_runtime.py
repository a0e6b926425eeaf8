"""Running the encoder on the device: one small interface, the runtime chosen by one string.

Only the selected runtime is imported (the speaker may have just one of them installed). The final
L2 normalisation is done here in numpy, not in the model graph: int8 TFLite runtimes reject Sqrt.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

BACKENDS = ("onnx",)


class ModelError(ValueError):
    """A model that cannot be loaded or does not fit the bundle it came with."""


class Encoder(Protocol):
    """Embeds standardised windows (N, frames, bands) float32 -> unit vectors (N, dim) float32."""

    input_frames: int
    input_bands: int
    embedding_dim: int

    def embed(self, windows: np.ndarray) -> np.ndarray: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class OnnxEncoder:
    """An ONNX model (float or int8 QDQ) run by onnxruntime with an explicit thread count."""

    def __init__(self, model: bytes, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"cannot load ONNX encoder: {exc}") from exc
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 3 or len(outputs) != 1:
            raise ModelError("ONNX encoder must take one (batch, frames, bands) input and give one output")
        self._input_name = inputs[0].name
        _, frames, bands = inputs[0].shape
        if not isinstance(frames, int) or not isinstance(bands, int):
            raise ModelError(f"ONNX encoder input needs fixed frames and bands, got {inputs[0].shape}")
        self.input_frames, self.input_bands = frames, bands
        dim = outputs[0].shape[-1]
        self.embedding_dim = dim if isinstance(dim, int) else int(self.embed(np.zeros((1, frames, bands), np.float32)).shape[1])

    def embed(self, windows: np.ndarray) -> np.ndarray:
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        if windows.ndim != 3 or windows.shape[1:] != (self.input_frames, self.input_bands):
            raise ModelError(f"encoder expects (N, {self.input_frames}, {self.input_bands}) windows, got {windows.shape}")
        (raw,) = self._session.run(None, {self._input_name: windows})
        return l2_normalise(raw)


def load_encoder(model: bytes, backend: str = "onnx", threads: int = 1) -> Encoder:
    """Builds the encoder for ``backend``; the other runtimes are never imported."""
    if backend == "onnx":
        return OnnxEncoder(model, threads)
    raise ModelError(f"unknown encoder backend {backend!r}; available here: {', '.join(BACKENDS)}")
