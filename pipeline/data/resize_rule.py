"""The resize rule a recognizer was trained with, which inference must repeat exactly.

Every line, synthetic or real, is scaled to `image_height` keeping its aspect ratio, then stretched
horizontally by `width_scale`, converted to grey in 0..1 (white paper ~1), and padded on the right with its
own border colour to a multiple of `width_multiple` (the model's horizontal stride). A model trained at
`width_scale` 2.0 and fed unstretched lines sees letters half as wide as it learned and reads them badly, so
the rule travels with the model: in the deploy manifest and in the metadata of every ONNX file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# ONNX metadata_props keys (strings only): namespaced so they never clash with another tool's keys.
METADATA_PREFIX = "ocrq."
RULE_TEXT = (
    "scale to image_height keeping the aspect ratio, stretch the width by width_scale, grey 0..1 "
    "(white ~1), pad on the right with the border colour to a multiple of width_multiple"
)


class ResizeRuleError(ValueError):
    """A recorded resize rule is missing a value or holds one no ocrq model could have been trained with."""


@dataclass(frozen=True)
class ResizeRule:
    """How a line image becomes model input.

    Attributes:
        image_height: The model's input height in pixels.
        width_scale: Horizontal stretch after scaling to `image_height` (1.0 = aspect ratio kept).
        width_multiple: Input widths are padded to a multiple of this (the model's horizontal stride).
    """

    image_height: int
    width_scale: float
    width_multiple: int

    def __post_init__(self) -> None:
        if (
            isinstance(self.image_height, bool)
            or not isinstance(self.image_height, int)
            or self.image_height < 8
        ):
            raise ResizeRuleError(f"image_height={self.image_height!r} is not allowed; an integer >= 8")
        scale = self.width_scale
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
            raise ResizeRuleError(f"width_scale={scale!r} is not a number; allowed 1.0..4.0")
        if not 1.0 <= scale <= 4.0:
            raise ResizeRuleError(f"width_scale={scale!r} is out of range; allowed 1.0..4.0")
        multiple = self.width_multiple
        if isinstance(multiple, bool) or not isinstance(multiple, int) or multiple < 1:
            raise ResizeRuleError(f"width_multiple={multiple!r} is not allowed; an integer >= 1")

    def scaled_width(self, width: int, height: int) -> int:
        """Width in pixels of a `width` x `height` image after the rule (before padding)."""
        return max(1, int(round(width * self.width_scale * self.image_height / max(height, 1))))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-native form kept in the deploy manifest."""
        return {**asdict(self), "rule": RULE_TEXT}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResizeRule:
        """Read the manifest form back.

        Raises:
            ResizeRuleError: a value is missing or out of range.
        """
        missing = [k for k in ("image_height", "width_scale", "width_multiple") if k not in data]
        if missing:
            raise ResizeRuleError(f"the recorded resize rule lacks {', '.join(missing)}")
        return cls(data["image_height"], data["width_scale"], data["width_multiple"])

    def to_metadata(self) -> dict[str, str]:
        """ONNX `metadata_props` entries (string to string)."""
        return {
            f"{METADATA_PREFIX}image_height": str(self.image_height),
            f"{METADATA_PREFIX}width_scale": repr(float(self.width_scale)),
            f"{METADATA_PREFIX}width_multiple": str(self.width_multiple),
            f"{METADATA_PREFIX}resize": RULE_TEXT,
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> ResizeRule | None:
        """The rule stamped in an ONNX file's metadata; None when the file carries none (not made by ocrq).

        Raises:
            ResizeRuleError: the keys are there but a value is not a number or is out of range.
        """
        keys = ("image_height", "width_scale", "width_multiple")
        if not any(f"{METADATA_PREFIX}{k}" in metadata for k in keys):
            return None
        values = {}
        for key in keys:
            text = metadata.get(f"{METADATA_PREFIX}{key}")
            if text is None:
                raise ResizeRuleError(f"the model's metadata has no {METADATA_PREFIX}{key}")
            try:
                values[key] = float(text) if key == "width_scale" else int(text)
            except ValueError:
                raise ResizeRuleError(
                    f"the model's metadata {METADATA_PREFIX}{key}={text!r} is not a number"
                ) from None
        return cls(**values)

    def describe(self) -> str:
        """One line for people: `height 32, width x2.0, padded to a multiple of 4`."""
        return (
            f"height {self.image_height}, width x{self.width_scale:g} after keeping the aspect ratio, "
            f"padded to a multiple of {self.width_multiple}"
        )
