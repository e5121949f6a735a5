"""Robustness: five corruptions at five severities, CER curves per variant, and each variant's robustness
gap (the extra CER it loses under corruption beyond what it already loses on clean lines).

Corruptions work on the float images (1, H, W) in [-1, 1] and are deterministic per (line, severity), so
every variant reads exactly the same corrupted pixels. Severity 0 is the clean image, unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.evaluation.metrics import cer

SEVERITIES = (1, 2, 3, 4, 5)
NOISE_SIGMA = (0.0, 0.08, 0.16, 0.24, 0.32, 0.40)  # in [-1, 1] units (x 127.5 grey levels)
BLUR_SIGMA = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)  # pixels at the model's image height
ROTATION_DEGREES = (0.0, 1.5, 3.0, 4.5, 6.0, 7.5)
OCCLUSION_WIDTH = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25)  # share of the line's width covered by a grey bar
CONTRAST_FACTOR = (1.0, 0.7, 0.5, 0.35, 0.25, 0.15)


def _rng(index: int, severity: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([index, severity, salt])


def gaussian_noise(image: torch.Tensor, severity: int, index: int) -> torch.Tensor:
    """Additive Gaussian noise, the same noise for a line at a severity in every variant."""
    noise = _rng(index, severity, 1).standard_normal(image.shape).astype(np.float32)
    return (image + NOISE_SIGMA[severity] * torch.from_numpy(noise)).clamp_(-1.0, 1.0)


def blur(image: torch.Tensor, severity: int, index: int) -> torch.Tensor:
    """Gaussian blur (separable, edges replicated)."""
    sigma = BLUR_SIGMA[severity]
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    batch = F.pad(image[None], (radius, radius, radius, radius), mode="replicate")
    batch = F.conv2d(batch, kernel.view(1, 1, 1, -1))
    batch = F.conv2d(batch, kernel.view(1, 1, -1, 1))
    return batch[0]


def _background(image: torch.Tensor) -> float:
    border = torch.cat([image[0, 0], image[0, -1], image[0, :, 0], image[0, :, -1]])
    return float(border.median())


def rotation(image: torch.Tensor, severity: int, index: int) -> torch.Tensor:
    """Rotation about the centre, alternating direction by line, the corners filled with the background."""
    angle = math.radians(ROTATION_DEGREES[severity]) * (1 if index % 2 == 0 else -1)
    _, height, width = image.shape
    fill = _background(image)
    # affine_grid works in normalised coordinates; scale so the rotation is rigid in pixels.
    aspect = width / height
    theta = torch.tensor(
        [[math.cos(angle), -math.sin(angle) / aspect, 0.0], [math.sin(angle) * aspect, math.cos(angle), 0.0]],
        dtype=torch.float32,
    )
    grid = F.affine_grid(theta[None], [1, 1, height, width], align_corners=False)
    shifted = image[None] - fill  # zeros padding then means "background" after shifting back
    return F.grid_sample(shifted, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0] + fill


def occlusion(image: torch.Tensor, severity: int, index: int) -> torch.Tensor:
    """A full-height mid-grey bar over a share of the line's width, at a place chosen per line."""
    width = image.shape[-1]
    bar = max(1, int(round(OCCLUSION_WIDTH[severity] * width)))
    start = int(_rng(index, severity, 4).integers(0, max(1, width - bar + 1)))
    out = image.clone()
    out[..., start : start + bar] = 0.0
    return out


def contrast(image: torch.Tensor, severity: int, index: int) -> torch.Tensor:
    """Contrast reduced towards the line's mean grey."""
    mean = image.mean()
    return mean + (image - mean) * CONTRAST_FACTOR[severity]


CORRUPTIONS: dict[str, Callable[[torch.Tensor, int, int], torch.Tensor]] = {
    "gaussian_noise": gaussian_noise,
    "blur": blur,
    "rotation": rotation,
    "occlusion": occlusion,
    "contrast": contrast,
}


def corrupt(name: str, severity: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """`(image, line_index) -> image` for one corruption at one severity; severity 0 returns the image.

    Raises:
        ValueError: for an unknown corruption or a severity outside 0..5.
    """
    if name not in CORRUPTIONS:
        raise ValueError(f"corruption {name!r} is unknown; allowed {', '.join(CORRUPTIONS)}")
    if not 0 <= severity <= 5:
        raise ValueError(f"severity {severity} is out of range; allowed 0..5")
    function = CORRUPTIONS[name]
    if severity == 0:
        return lambda image, index: image
    return lambda image, index: function(image, severity, index)


def robustness_gaps(curves: dict[str, dict[str, list[float]]], reference: str = "fp32") -> dict[str, dict]:
    """Each variant's robustness gap against the reference.

    Args:
        curves: variant -> corruption -> CER at severities 0..5 (index 0 is clean).
        reference: The variant the others are compared with.

    Returns:
        variant -> `clean_delta` (clean CER minus the reference's), `gap` (mean over corruptions and
        severities 1..5 of the CER difference beyond `clean_delta`; positive = more fragile) and
        `by_corruption` (the same mean per corruption).
    """
    ref = curves[reference]
    out = {}
    for variant, by_corruption in curves.items():
        if variant == reference:
            continue
        clean_delta = next(iter(by_corruption.values()))[0] - next(iter(ref.values()))[0]
        per = {}
        for name, values in by_corruption.items():
            extra = [v - r - clean_delta for v, r in zip(values[1:], ref[name][1:], strict=True)]
            per[name] = float(np.mean(extra))
        out[variant] = {
            "clean_delta": clean_delta,
            "gap": float(np.mean(list(per.values()))),
            "by_corruption": per,
        }
    return out


def robustness_report(
    read: Callable[[str, Callable | None], list[str]],
    variants: list[str],
    labels: list[str],
    corruptions: tuple[str, ...] = tuple(CORRUPTIONS),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """CER of every variant under every corruption and severity, and the gaps.

    Args:
        read: `(variant, transform) -> predictions` in line order; the caller keeps recognizers (and
            ONNX sessions) loaded across calls.
        variants: The reference first.
        labels: The lines' labels.
        progress: Called with a short message after each (corruption, severity) is read by all variants.
    """
    clean = {v: cer(read(v, None), labels) for v in variants}
    curves: dict[str, dict[str, list[float]]] = {v: {} for v in variants}
    for name in corruptions:
        for v in variants:
            curves[v][name] = [clean[v]]
        for severity in SEVERITIES:
            transform = corrupt(name, severity)
            for v in variants:
                curves[v][name].append(cer(read(v, transform), labels))
            if progress:
                progress(f"{name} severity {severity}")
    return {
        "lines": len(labels),
        "severities": [0, *SEVERITIES],
        "curves": curves,
        "gaps": robustness_gaps(curves, variants[0]) if len(variants) > 1 else {},
    }
