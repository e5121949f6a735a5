"""Deployment: ONNX export, ONNX Runtime sessions and ONNX Runtime quantization."""
