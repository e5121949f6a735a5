"""Recognizer heads behind one interface: loss, decoding, output lengths, ONNX outputs, fidelity inputs.

May import `pipeline.core` and torch. CTC is the head every built-in model uses today."""
