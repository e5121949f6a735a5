"""Real text lines from a PaddleOCR recognition label file.

Each line of the file is `relative/image/path<TAB>label`, the path relative to the label file's folder.
Every bad line is reported with its line number and reason (never silently dropped); unless `skip_bad`,
any bad line stops loading with a `DataError` listing the first few.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from pipeline.core.charset import Charset, _describe_chars
from pipeline.data.samples import LinePixels, LineSample, pixels_to_tensor

TOO_WIDE_POLICIES = ("error", "resize")
SHOWN_PROBLEMS = 5


class DataError(ValueError):
    """A dataset cannot be used as it is; the message says which lines and why."""


@dataclass(frozen=True)
class LabelledSample:
    """One usable line of a label file.

    Attributes:
        path: The image file.
        label: Its text.
        line_number: Where it is in the label file (1-based).
        size: (width, height) of the image in pixels.
    """

    path: Path
    label: str
    line_number: int
    size: tuple[int, int]


@dataclass(frozen=True)
class LabelProblem:
    """A bad line of a label file: `kind` is one of malformed, unsafe_path, missing_file, unreadable_image,
    empty_label, bad_chars."""

    line_number: int
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.reason}"


@dataclass
class CharsetCoverage:
    """How many labels hold characters outside the charset, which characters, and examples."""

    total: int = 0
    bad: int = 0
    missing: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.bad:
            return f"all {self.total} labels fit the charset"
        top = ", ".join(f"{c!r} x{n}" for c, n in self.missing.most_common(10))
        shown = "; ".join(repr(e) for e in self.examples)
        return f"{self.bad} of {self.total} labels have characters outside the charset ({top}); e.g. {shown}"


def charset_coverage(labels: Iterable[str], charset: Charset, max_examples: int = 5) -> CharsetCoverage:
    """Count labels with characters outside `charset`, with the characters and a few example labels."""
    report = CharsetCoverage()
    for label in labels:
        report.total += 1
        missing = [c for c in label if c not in charset]
        if missing:
            report.bad += 1
            report.missing.update(missing)
            if len(report.examples) < max_examples:
                report.examples.append(label)
    return report


def _unsafe_reason(relative: str) -> str | None:
    """Why a path from the label file may not be used, or None: it must stay inside the file's folder."""
    if (
        PurePosixPath(relative).is_absolute()
        or PureWindowsPath(relative).is_absolute()
        or PureWindowsPath(relative).drive
    ):
        return f"absolute path {relative!r} is not allowed; paths are relative to the label file's folder"
    if ".." in PurePosixPath(relative.replace("\\", "/")).parts:
        return f"path {relative!r} leaves the label file's folder ('..' is not allowed)"
    return None


def _check_line(
    raw: str, line_number: int, root: Path, charset: Charset, allow_empty: bool
) -> LabelledSample | LabelProblem:
    if "\t" not in raw:
        return LabelProblem(line_number, "malformed", f"no TAB between image path and label in {raw[:60]!r}")
    relative, label = raw.split("\t", 1)
    if not relative.strip():
        return LabelProblem(line_number, "malformed", "empty image path")
    unsafe = _unsafe_reason(relative)
    if unsafe:
        return LabelProblem(line_number, "unsafe_path", unsafe)
    path = root / relative
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except OSError:
        inside = False
    if not inside:
        return LabelProblem(
            line_number, "unsafe_path", f"path {relative!r} resolves outside the label file's folder"
        )
    if not path.is_file():
        return LabelProblem(line_number, "missing_file", f"image file {relative!r} does not exist")
    try:
        with Image.open(path) as image:
            size = image.size
            image.verify()  # reads the file structure (PNG checksums) without decoding every pixel
    except Image.DecompressionBombError:  # its header claims more pixels than PIL will decode safely
        return LabelProblem(
            line_number,
            "unreadable_image",
            f"image {relative!r} is too large to decode safely (over {2 * Image.MAX_IMAGE_PIXELS:,} pixels)",
        )
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return LabelProblem(line_number, "unreadable_image", f"image {relative!r} cannot be read ({exc})")
    if not label and not allow_empty:
        return LabelProblem(
            line_number, "empty_label", f"empty label for {relative!r} (pass allow_empty to keep blank lines)"
        )
    missing = charset.missing(label)
    if missing:
        return LabelProblem(
            line_number,
            "bad_chars",
            f"label {label[:40]!r} has characters outside charset {charset.name!r}: {_describe_chars(missing)}",
        )
    return LabelledSample(path, label, line_number, size)


def load_label_file(
    path: str | Path, charset: Charset, allow_empty: bool = False, skip_bad: bool = False
) -> tuple[list[LabelledSample], list[LabelProblem]]:
    """Read and check a PaddleOCR recognition label file.

    Args:
        path: The label file (UTF-8). Image paths in it are relative to its folder.
        charset: Labels must fit it.
        allow_empty: Keep lines whose label is "" (blank-line images).
        skip_bad: Keep going past bad lines (they are returned as problems) instead of raising.

    Returns:
        The usable samples and the problems found, each naming its line number.

    Raises:
        DataError: the file is missing or unreadable; a bad line when `skip_bad` is False; no usable line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"label file {str(path)!r} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return check_label_lines(text.split("\n"), path.parent, str(path), charset, allow_empty, skip_bad)


def check_label_lines(
    lines: list[str],
    root: Path,
    source: str,
    charset: Charset,
    allow_empty: bool = False,
    skip_bad: bool = False,
) -> tuple[list[LabelledSample], list[LabelProblem]]:
    """Check `path<TAB>label` lines (1-based line numbers as given) whose paths are relative to `root`.

    `source` names the file in messages. Raises `DataError` as `load_label_file` does.
    """
    path = source
    samples: list[LabelledSample] = []
    problems: list[LabelProblem] = []
    labels: list[str] = []
    for line_number, raw in enumerate(lines, start=1):
        raw = raw.rstrip("\r")
        if not raw.strip():
            continue
        if "\t" in raw:
            labels.append(raw.split("\t", 1)[1])
        result = _check_line(raw, line_number, root, charset, allow_empty)
        (problems if isinstance(result, LabelProblem) else samples).append(result)
    if problems and not skip_bad:
        shown = "; ".join(str(p) for p in problems[:SHOWN_PROBLEMS])
        more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
        coverage = charset_coverage(labels, charset)
        summary = f"; charset coverage: {coverage}" if coverage.bad else ""
        raise DataError(
            f"{path}: {len(problems)} bad line(s): {shown}{more}{summary}; pass skip_bad to skip them"
        )
    if not samples:
        raise DataError(
            f"label file {str(path)!r} has no usable line" + (f" ({len(problems)} bad)" if problems else "")
        )
    return samples, problems


class LabelledLineDataset(Dataset):
    """Real line images; item `i` is `(image tensor (1, H, W) in [-1, 1], label)` like the synthetic set.

    Images are converted to grey and resized to `image_height` keeping their aspect ratio.

    Args:
        samples: From `load_label_file`.
        image_height: Output height in pixels.
        max_image_width: Widest allowed image after resizing.
        too_wide: "error" (raise at construction, naming the lines) or "resize" (squeeze to the max width).
        width_scale: Horizontal stretch after scaling to `image_height` (the same rule as synthetic lines).
    """

    def __init__(
        self,
        samples: list[LabelledSample],
        image_height: int = 32,
        max_image_width: int = 1024,
        too_wide: str = "error",
        width_scale: float = 1.0,
    ) -> None:
        if too_wide not in TOO_WIDE_POLICIES:
            raise ValueError(f"too_wide={too_wide!r} is unknown; allowed {', '.join(TOO_WIDE_POLICIES)}")
        if image_height < 8 or max_image_width < image_height:
            raise ValueError(
                f"image_height={image_height} / max_image_width={max_image_width} are not allowed"
            )
        self.samples = list(samples)
        self.image_height, self.max_image_width, self.too_wide = image_height, max_image_width, too_wide
        self.width_scale = width_scale
        self._widths = np.array([self._scaled_width(s.size) for s in self.samples], dtype=np.int64)
        wide = [s for s, w in zip(self.samples, self._widths, strict=True) if w > max_image_width]
        if wide and too_wide == "error":
            shown = "; ".join(
                f"line {s.line_number}: {s.path.name} ({self._scaled_width(s.size)} px)" for s in wide[:5]
            )
            raise DataError(
                f"{len(wide)} image(s) are wider than max_image_width={max_image_width} at height {image_height}: "
                f"{shown}; raise max_image_width or use too_wide='resize'"
            )
        np.minimum(self._widths, max_image_width, out=self._widths)

    @classmethod
    def from_label_file(
        cls,
        path: str | Path,
        charset: Charset,
        image_height: int = 32,
        max_image_width: int = 1024,
        too_wide: str = "error",
        allow_empty: bool = False,
        skip_bad: bool = False,
    ) -> LabelledLineDataset:
        """Load and check a label file (see `load_label_file`), then build the dataset."""
        samples, _ = load_label_file(path, charset, allow_empty=allow_empty, skip_bad=skip_bad)
        return cls(samples, image_height, max_image_width, too_wide)

    def _scaled_width(self, size: tuple[int, int]) -> int:
        width, height = size
        return max(1, int(round(width * self.width_scale * self.image_height / max(height, 1))))

    def __len__(self) -> int:
        return len(self.samples)

    def label(self, index: int) -> str:
        """The label of line `index`."""
        return self.samples[index].label

    def describe(self, index: int) -> str:
        """A short note on line `index` for previews: its file and line number."""
        sample = self.samples[index]
        return f"{sample.path.name}:{sample.line_number}"

    def source(self, index: int) -> str:
        """The image file of line `index`, for predictions files."""
        return str(self.samples[index].path)

    def width_hint(self, index: int) -> int:
        """Pixel width of line `index` after resizing (known without decoding the image)."""
        return int(self._widths[index])

    def width_hints(self) -> np.ndarray:
        """Widths of all lines after resizing."""
        return self._widths

    def load_image(self, index: int) -> Image.Image:
        """Line `index` as a mode "L" image resized to `image_height`."""
        sample = self.samples[index]
        try:
            with Image.open(sample.path) as image:
                grey = image.convert("L")
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(
                f"line {sample.line_number}: image {str(sample.path)!r} cannot be read ({exc})"
            ) from None
        size = (int(self._widths[index]), self.image_height)
        return grey if grey.size == size else grey.resize(size, Image.Resampling.BILINEAR)

    def pixels(self, index: int) -> LinePixels:
        """Line `index` as uint8 (H, W) pixels with its label."""
        return np.asarray(self.load_image(index)), self.samples[index].label

    def __getitem__(self, index: int) -> LineSample:
        pixels, label = self.pixels(index)
        return pixels_to_tensor(pixels), label
