"""Running the encoder on the device: one small interface, the runtime chosen by one string.

- ``onnx``: onnxruntime with the bundle's ``encoder.onnx`` (int8 QDQ).
- ``litert``: ai-edge-litert (the TFLite runtime's successor, numpy 2) with ``encoder.tflite``.
- ``tflite-runtime``: the older tflite-runtime package (numpy < 2) with the same ``encoder.tflite``.

Only the selected runtime is imported (the speaker may have just one of them installed). The final
L2 normalisation is done here in numpy, not in the model graph: int8 TFLite runtimes reject Sqrt.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

BACKENDS = ("onnx", "litert", "tflite-runtime")
MODEL_FORMAT = {"onnx": "onnx", "litert": "tflite", "tflite-runtime": "tflite"}  # which model file a backend runs


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


# Windows one onnxruntime call embeds. Its activations grow with the batch: a 3-minute file query
# (684 windows over five tempo versions) peaked at 1.1 GB resident in one call; each window's vector
# is the same in any batch (checked bit for bit at 1 / 16 / 64 / 128 against 300 at once).
EMBED_BATCH = 64


class OnnxEncoder:
    """An ONNX model (float or int8 QDQ) run by onnxruntime with an explicit thread count."""

    def __init__(self, model: bytes, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # a fixed-size model: the arena only holds memory a speaker needs elsewhere
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
        if len(windows) <= EMBED_BATCH:
            (raw,) = self._session.run(None, {self._input_name: windows})
            return l2_normalise(raw)
        return np.concatenate([self.embed(windows[start : start + EMBED_BATCH]) for start in range(0, len(windows), EMBED_BATCH)])


class TfliteEncoder:
    """A TFLite model (batch 1; float or fully int8 with quantized input and output) run window by window.

    TFLite encoders are exported with a fixed batch of one (their reshapes carry it), so windows are
    invoked one at a time; int8 input/output tensors are (de)quantized here with the tensor's own
    scale and zero point.
    """

    def __init__(self, model: bytes, threads: int = 1, runtime: str = "litert") -> None:
        try:
            if runtime == "litert":
                from ai_edge_litert.interpreter import Interpreter
            else:
                from tflite_runtime.interpreter import Interpreter
        except ImportError as exc:
            package = "ai-edge-litert" if runtime == "litert" else "tflite-runtime (needs numpy < 2)"
            raise ModelError(f"backend {runtime!r} needs the {package} package: pip install {package.split()[0]}") from exc
        try:
            self._interpreter = Interpreter(model_content=model, num_threads=threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load TFLite encoder: {exc}") from exc
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 3 or len(outputs) != 1 or len(outputs[0]["shape"]) != 2:
            raise ModelError("TFLite encoder must take one (1, frames, bands) input and give one (1, dim) output")
        self._input, self._output = inputs[0], outputs[0]
        _, self.input_frames, self.input_bands = (int(v) for v in self._input["shape"])
        self.embedding_dim = int(self._output["shape"][1])

    @staticmethod
    def _scale(details: dict) -> tuple[float, int] | None:
        """(scale, zero point) of an integer tensor, None for a float one."""
        if np.issubdtype(details["dtype"], np.floating):
            return None
        scale, zero_point = details["quantization"]
        return float(scale), int(zero_point)

    def embed(self, windows: np.ndarray) -> np.ndarray:
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 3 or windows.shape[1:] != (self.input_frames, self.input_bands):
            raise ModelError(f"encoder expects (N, {self.input_frames}, {self.input_bands}) windows, got {windows.shape}")
        in_q, out_q = self._scale(self._input), self._scale(self._output)
        info = np.iinfo(self._input["dtype"]) if in_q else None
        raw = np.empty((len(windows), self.embedding_dim), dtype=np.float32)
        for i, window in enumerate(windows):
            x = window[None]
            if in_q:
                x = np.clip(np.round(x / in_q[0]) + in_q[1], info.min, info.max).astype(self._input["dtype"])
            self._interpreter.set_tensor(self._input["index"], x)
            self._interpreter.invoke()
            y = self._interpreter.get_tensor(self._output["index"])[0]
            raw[i] = (y.astype(np.float32) - out_q[1]) * out_q[0] if out_q else y
        return l2_normalise(raw)


def load_encoder(model: bytes, backend: str = "onnx", threads: int = 1) -> Encoder:
    """Builds the encoder for ``backend`` from the model bytes in its format (see ``MODEL_FORMAT``).

    The other runtimes are never imported.
    """
    if backend == "onnx":
        return OnnxEncoder(model, threads)
    if backend in ("litert", "tflite-runtime"):
        return TfliteEncoder(model, threads, backend)
    raise ModelError(f"unknown encoder backend {backend!r}; known: {', '.join(BACKENDS)}")
