"""Recognizer heads behind one interface: loss, decoding, output lengths, ONNX outputs, fidelity inputs.

May import `pipeline.core` and torch. CTC is the head every built-in model uses today."""

from pipeline.models.heads.base import RecognizerHead, head_of, register_head
from pipeline.models.heads.ctc import CTC, CtcHead

__all__ = ["CTC", "CtcHead", "RecognizerHead", "head_of", "register_head"]
