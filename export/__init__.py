"""Turning trained weights into device models: ONNX float, ONNX int8 (and later TFLite)."""
