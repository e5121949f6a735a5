"""ONNX Runtime inference behind the same call shape as a torch recognizer, so one evaluator serves both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch


def make_session(path: Path, *, threads: int = 1, providers: list[str] | None = None) -> ort.InferenceSession:
    """A session with a fixed thread count (figures are quoted per thread count)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(
        str(path), sess_options=options, providers=providers or ["CPUExecutionProvider"]
    )


class OnnxRecognizer:
    """Calls an ONNX Runtime session like a recognizer module: images tensor in, logits tensor out."""

    def __init__(
        self,
        session: ort.InferenceSession,
        output_length: Callable[[int], int],
        width_multiple: int,
        image_height: int,
        head_kind: str = "ctc",
    ):
        from pipeline.models.heads import head_of

        self.session = session
        self.head_kind = head_kind
        self.output_name = head_of(self).onnx_output
        self.output_length = output_length
        self.width_multiple = width_multiple
        self.image_height = image_height
        self.training = False

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run(
            [self.output_name], {"images": images.detach().cpu().numpy().astype(np.float32)}
        )
        return torch.from_numpy(logits)

    def run_numpy(self, images: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {"images": images})[0]

    def eval(self) -> OnnxRecognizer:
        return self

    def train(self, mode: bool = True) -> OnnxRecognizer:
        return self
