"""Deployment: ONNX export, ONNX Runtime sessions and ONNX Runtime quantization (static, dynamic, 4-bit).

May import core, config, models and compress (a torchao plan is realised in ONNX Runtime here)."""
