"""Calibration for ONNX Runtime static quantization: a data reader over text-line batches and the map
from ocrq's observer names to ONNX Runtime's calibration methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod


class LineBatchReader(CalibrationDataReader):
    """Feeds image batches (B, 1, H, W) in [-1, 1] to an ONNX Runtime calibrator.

    Inputs are materialised once, so one reader can be rewound and serve several quantizations.
    """

    def __init__(self, images: list[np.ndarray], input_name: str = "images") -> None:
        if not images:
            raise ValueError(
                "calibration needs at least one batch of lines; allowed calibration_batches >= 1"
            )
        self.inputs = [{input_name: np.ascontiguousarray(batch, dtype=np.float32)} for batch in images]
        self._position = 0
        self._end = len(self.inputs)

    @classmethod
    def from_line_batches(
        cls,
        batches: Iterable[Any],
        *,
        input_name: str = "images",
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> LineBatchReader:
        """From `DataBundle.calibration_batches(n)` (training-distribution lines, never test lines).

        Batches are padded to one common width: ONNX Runtime's histogram calibrators (percentile,
        entropy) stack every batch's activations and fail on mixed widths. `transform` maps the padded
        (B, 1, H, W) lines to another model's input (an imported model's channels and normalisation).
        """
        images = [batch.images.detach().cpu().numpy() for batch in batches]
        width = max((batch.shape[3] for batch in images), default=0)
        padded = [_pad_to_width(batch, width) for batch in images]
        return cls([transform(b) for b in padded] if transform else padded, input_name=input_name)

    @classmethod
    def synthetic(
        cls, batches: int, batch_size: int, image_height: int, width: int = 256, seed: int = 0
    ) -> LineBatchReader:
        """Random-pixel inputs for when no line images are at hand (ranges will be rough)."""
        generator = np.random.default_rng(seed)
        return cls([generator.uniform(-1, 1, (batch_size, 1, image_height, width)) for _ in range(batches)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._position >= self._end:
            return None
        item = self.inputs[self._position]
        self._position += 1
        return item

    def rewind(self) -> None:
        self._position, self._end = 0, len(self.inputs)

    def set_range(self, start_index: int, end_index: int) -> None:
        """Serve only batches [start_index, end_index): ONNX Runtime calibrates one stride at a time."""
        self._position, self._end = start_index, min(end_index, len(self.inputs))

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def lines(self) -> int:
        return sum(next(iter(item.values())).shape[0] for item in self.inputs)


def _pad_to_width(images: np.ndarray, width: int) -> np.ndarray:
    """Pad (B, 1, H, W) images on the right to `width` with each image's border median (its background),
    as the data loader pads a batch."""
    missing = width - images.shape[3]
    if missing <= 0:
        return images
    plane = images[:, 0]
    border = np.concatenate([plane[:, :, 0], plane[:, :, -1], plane[:, 0, :], plane[:, -1, :]], axis=1)
    background = np.median(border, axis=1).reshape(-1, 1, 1, 1).astype(images.dtype)
    pad = np.broadcast_to(background, (images.shape[0], 1, images.shape[2], missing))
    return np.concatenate([images, pad], axis=3)


@dataclass(frozen=True)
class Calibration:
    """An ONNX Runtime calibration method and the extra options it needs."""

    method: CalibrationMethod
    extra_options: dict[str, Any]
    description: str


def calibration_for(observer_type: str, *, momentum: float = 0.1, percentile: float = 99.99) -> Calibration:
    """Map an ocrq observer to ONNX Runtime's calibration.

    min_max -> MinMax; moving_average -> MinMax with a moving average of the per-batch ranges
    (constant = momentum); percentile -> Percentile at `percentile`; histogram and entropy -> Entropy
    (ranges that minimise the KL divergence between the float and quantized histograms).
    """
    if observer_type == "min_max":
        return Calibration(CalibrationMethod.MinMax, {}, "MinMax")
    if observer_type == "moving_average":
        return Calibration(
            CalibrationMethod.MinMax,
            {"CalibMovingAverage": True, "CalibMovingAverageConstant": float(momentum)},
            f"MinMax moving average ({momentum})",
        )
    if observer_type == "percentile":
        return Calibration(
            CalibrationMethod.Percentile, {"CalibPercentile": float(percentile)}, f"Percentile {percentile}"
        )
    if observer_type in ("histogram", "entropy"):
        return Calibration(CalibrationMethod.Entropy, {}, "Entropy (KL over histograms)")
    raise ValueError(
        f"observer_type={observer_type!r} is not supported; allowed min_max, moving_average, percentile, histogram, entropy"
    )
