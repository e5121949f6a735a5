"""A recognizer someone else exported to ONNX: how its input and output map onto ocrq's, and a session
wrapper that runs it behind ocrq's recognizer call shape.

ocrq's lines are (B, 1, H, W) grey images in [-1, 1] and its recognizers return (B, T, C) scores with
the CTC blank at class 0. A foreign model may want three channels, another normalisation, a fixed
width, and may put its blank elsewhere or end in a softmax. `inspect_foreign_model` decides the mapping
(or refuses in one line naming the option to set); `ForeignOnnxRecognizer` applies it on every call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from pipeline.deploy.ort_session import OnnxRecognizer, make_session

# channel means and standard deviations applied to pixels in [0, 1]
NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "paddle": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # PaddleOCR: (x / 255 - 0.5) / 0.5
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "zero_one": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "minus_one_one": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}
PROBE_WIDTHS = (160, 320)
LOG_FLOOR = 1e-9


class ImportRefused(ValueError):
    """The model's inputs or outputs cannot be mapped without an option the user has to set."""


@dataclass(frozen=True)
class ForeignLayout:
    """How ocrq feeds a foreign recognizer and reads its output.

    Attributes:
        input_name, output_name: The graph's image input and score output.
        channels: 1 or 3 (grey lines are repeated for 3).
        height: Line height in pixels.
        fixed_width: The width the model needs, or None when any width works (lines then keep theirs).
        normalize: A key of NORMALIZATIONS.
        classes: Scores per frame.
        blank: Index of the CTC blank among them.
        outputs_probabilities: The graph ends in a softmax (ocrq reads log-probabilities).
        stride: Input pixels per output frame.
    """

    input_name: str
    output_name: str
    channels: int
    height: int
    fixed_width: int | None
    normalize: str
    classes: int
    blank: int
    outputs_probabilities: bool
    stride: int

    def to_dict(self) -> dict:
        return asdict(self)

    def output_length(self, width: int) -> int:
        return max(1, -(-int(width) // self.stride))


def _dims(value_info: onnx.ValueInfoProto) -> list[int | None]:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def metadata_characters(path: Path) -> list[str] | None:
    """The character list a PaddleOCR export carries in its metadata (`character`), or None."""
    model = onnx.load(str(path), load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == "character":
            return prop.value.split("\n")
    return None


def inspect_foreign_model(
    path: Path,
    *,
    height: int | None = None,
    normalize: str = "paddle",
    blank: int | None = None,
    width: int | None = None,
) -> ForeignLayout:
    """Map a foreign ONNX recognizer's input and output onto ocrq's; ImportRefused when it cannot.

    The stride is measured by running the model at two widths (or taken from the fixed width).
    """
    path = Path(path)
    if normalize not in NORMALIZATIONS:
        raise ImportRefused(f"--normalize '{normalize}' is not known; allowed {', '.join(NORMALIZATIONS)}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001  (protobuf raises several kinds)
        raise ImportRefused(
            f"{path} is not an ONNX model ({type(error).__name__}); give a .onnx file"
        ) from None
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise ImportRefused(
            f"{path.name} has {len(inputs)} inputs ({names}); ocrq imports recognizers with one image "
            "input (N, C, H, W); export the recognizer alone"
        )
    image = inputs[0]
    if image.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ImportRefused(f"input '{image.name}' of {path.name} is not float32; ocrq feeds float32 images")
    dims = _dims(image)
    if len(dims) != 4:
        raise ImportRefused(
            f"input '{image.name}' of {path.name} has rank {len(dims)}; ocrq needs (N, C, H, W) images"
        )
    channels = dims[1]
    if channels not in (1, 3):
        raise ImportRefused(
            f"input '{image.name}' of {path.name} has {channels or 'unknown'} channels; ocrq feeds 1 or 3 "
            "(NCHW); transpose an NHWC export first"
        )
    if dims[2] is None and height is None:
        raise ImportRefused(f"input '{image.name}' of {path.name} has no fixed height; set --height")
    if dims[2] is not None and height is not None and height != dims[2]:
        raise ImportRefused(
            f"--height {height} contradicts the model's input height {dims[2]}; drop --height"
        )
    height = int(dims[2] or height)
    fixed_width = dims[3] if dims[3] is not None else width
    if len(graph.output) != 1:
        names = ", ".join(o.name for o in graph.output)
        raise ImportRefused(
            f"{path.name} has {len(graph.output)} outputs ({names}); ocrq reads one (N, T, C) score output"
        )
    output = graph.output[0]
    out_dims = _dims(output)
    if len(out_dims) != 3:
        raise ImportRefused(
            f"output '{output.name}' of {path.name} has rank {len(out_dims)}; ocrq reads CTC scores (N, T, C)"
        )
    session = make_session(path, threads=1)
    widths = (fixed_width,) if fixed_width else PROBE_WIDTHS
    frames = []
    for probe in widths:
        try:
            scores = session.run(None, {image.name: np.zeros((1, channels, height, probe), np.float32)})[0]
        except Exception as error:  # noqa: BLE001  (onnxruntime raises its own types)
            hint = "set --width" if fixed_width is None else "check --height"
            raise ImportRefused(
                f"{path.name} does not run on a 1x{channels}x{height}x{probe} line ({type(error).__name__}); {hint}"
            ) from None
        if scores.ndim != 3 or scores.shape[0] != 1:
            raise ImportRefused(
                f"output '{output.name}' of {path.name} has shape {scores.shape}; ocrq reads (N, T, C)"
            )
        frames.append(scores.shape[1])
    classes = int(scores.shape[2])
    if classes < 2:
        raise ImportRefused(f"output '{output.name}' of {path.name} has {classes} classes; CTC needs >= 2")
    if fixed_width:
        stride = max(1, round(fixed_width / frames[0]))
    else:
        grown = frames[1] - frames[0]
        if grown <= 0:
            raise ImportRefused(
                f"{path.name}'s frame count does not grow with width ({frames[0]} at {widths[0]}, "
                f"{frames[1]} at {widths[1]}); set --width for a fixed-width model"
            )
        stride = max(1, round((widths[1] - widths[0]) / grown))
    blank = 0 if blank is None else blank
    if not 0 <= blank < classes:
        raise ImportRefused(
            f"--blank {blank} is outside the model's {classes} classes; allowed 0..{classes - 1}"
        )
    producer = {out: node for node in graph.node for out in node.output}
    last = producer.get(output.name)
    return ForeignLayout(
        input_name=image.name,
        output_name=output.name,
        channels=int(channels),
        height=height,
        fixed_width=int(fixed_width) if fixed_width else None,
        normalize=normalize,
        classes=classes,
        blank=blank,
        outputs_probabilities=last is not None and last.op_type == "Softmax",
        stride=int(stride),
    )


def to_model_input(images: np.ndarray, layout: ForeignLayout) -> np.ndarray:
    """ocrq lines (B, 1, H, W) in [-1, 1] -> the model's input (channels, normalisation, fixed width)."""
    pixels = (np.asarray(images, dtype=np.float32) + 1.0) * 0.5  # [0, 1]
    if layout.fixed_width is not None and pixels.shape[3] != layout.fixed_width:
        pixels = _fit_width(pixels, layout.fixed_width)
    mean, std = NORMALIZATIONS[layout.normalize]
    channels = layout.channels
    mean = np.asarray(mean[:channels], np.float32).reshape(1, channels, 1, 1)
    std = np.asarray(std[:channels], np.float32).reshape(1, channels, 1, 1)
    if channels == 3:
        pixels = np.repeat(pixels, 3, axis=1)
    return np.ascontiguousarray((pixels - mean) / std, dtype=np.float32)


def _fit_width(pixels: np.ndarray, width: int) -> np.ndarray:
    """Pad on the right with the border background, or cut, to a fixed model width."""
    if pixels.shape[3] >= width:
        return pixels[..., :width]
    pad = np.broadcast_to(pixels[..., -1:], (*pixels.shape[:3], width - pixels.shape[3]))
    return np.concatenate([pixels, pad], axis=3)


def to_ocrq_scores(scores: np.ndarray, layout: ForeignLayout) -> np.ndarray:
    """The model's (B, T, C) output -> ocrq scores: log-probabilities when it ends in a softmax, blank at 0."""
    if layout.outputs_probabilities:
        scores = np.log(np.maximum(scores, LOG_FLOOR))
    if layout.blank != 0:
        order = [layout.blank] + [c for c in range(layout.classes) if c != layout.blank]
        scores = scores[..., order]
    return scores.astype(np.float32, copy=False)


class ForeignOnnxRecognizer(OnnxRecognizer):
    """An imported ONNX model behind ocrq's recognizer call: ocrq lines in, ocrq scores out."""

    def __init__(self, path: Path, layout: ForeignLayout, threads: int = 1) -> None:
        self.layout = layout
        self.path = Path(path)
        super().__init__(make_session(path, threads=threads), layout.output_length, 1, layout.height)
        self.output_name = layout.output_name

    def run_numpy(self, images: np.ndarray) -> np.ndarray:
        feed = {self.layout.input_name: to_model_input(images, self.layout)}
        return to_ocrq_scores(self.session.run([self.output_name], feed)[0], self.layout)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run_numpy(images.detach().cpu().numpy()))
