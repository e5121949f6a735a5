"""Real line datasets in the formats OCR people already have, behind one function (`open_real_dataset`).

- a PaddleOCR label file (`path<TAB>label`), or a folder holding one (labels.txt, rec_gt.txt, gt.txt,
  label.txt);
- a folder of images with `labels.csv` (a header naming the image and text columns, e.g. `filename,text`)
  or `gt.txt` (`path<TAB>label`, or ICDAR-style `word_1.png, "Tiredness"`);
- an LMDB text-recognition dataset as used by the scene-text benchmarks: keys `num-samples`,
  `image-%09d` (encoded image bytes) and `label-%09d` (UTF-8), indices from 1.

Every sample is checked up front (missing image, undecodable image, label outside the charset); a bad one
stops loading with a message naming it, unless `skip_bad` (then it is skipped and counted in the problems).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from pipeline.core.charset import Charset, _describe_chars
from pipeline.data.label_files import LABEL_FILE_NAMES
from pipeline.data.labelled import (
    SHOWN_PROBLEMS,
    DataError,
    LabelledLineDataset,
    LabelProblem,
    check_label_lines,
    load_label_file,
)
from pipeline.data.samples import LinePixels, LineSample, pixels_to_tensor

IMAGE_COLUMNS = ("filename", "file", "image", "image_path", "path", "img")
TEXT_COLUMNS = ("text", "label", "transcription", "words", "gt")
LMDB_FORMAT = "lmdb"


@dataclass(frozen=True)
class RealDataset:
    """A real line dataset and what loading it found.

    Attributes:
        dataset: Items `(image tensor (1, H, W) in [-1, 1], label)`.
        problems: Bad samples skipped (only with `skip_bad`).
        format: "paddle", "csv", "gt" or "lmdb".
        description: Where it comes from, for reports.
    """

    dataset: Dataset
    problems: list[LabelProblem]
    format: str
    description: str


def detect_format(data: str | Path) -> tuple[str, Path]:
    """The format of `data` and the file or folder to read.

    Raises:
        DataError: nothing usable at `data`.
    """
    path = Path(data).expanduser()
    if path.is_file():
        if path.name == "data.mdb":
            return LMDB_FORMAT, path.parent
        if path.suffix.lower() == ".csv":
            return "csv", path
        return "paddle", path  # `path<TAB>label`; ICDAR gt.txt lines are recognised inside (see `_gt_lines`)
    if path.is_dir():
        if (path / "data.mdb").is_file():
            return LMDB_FORMAT, path
        if (path / "labels.csv").is_file():
            return "csv", path / "labels.csv"
        for name in LABEL_FILE_NAMES:
            if (path / name).is_file():
                return "paddle", path / name
        candidates = sorted(path.glob("*.txt"))
        if len(candidates) == 1:
            return "paddle", candidates[0]
        raise DataError(
            f"{str(path)!r} holds no dataset: expected data.mdb (LMDB), labels.csv or one of "
            f"{', '.join(LABEL_FILE_NAMES)}"
        )
    raise DataError(
        f"{str(path)!r} does not exist; allowed a label file, labels.csv, a folder or an LMDB folder"
    )


def _csv_as_label_file(path: Path, scratch_lines: list[str]) -> None:
    """`labels.csv` rows as `path<TAB>label` lines (the header names the columns)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataError(f"{path}: empty CSV")
    header = [h.strip().lower() for h in rows[0]]
    image_col = next((header.index(c) for c in IMAGE_COLUMNS if c in header), None)
    text_col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    if image_col is None or text_col is None:
        raise DataError(
            f"{path}: the header {rows[0]!r} must name an image column ({', '.join(IMAGE_COLUMNS)}) and a "
            f"text column ({', '.join(TEXT_COLUMNS)})"
        )
    for row in rows[1:]:
        if len(row) <= max(image_col, text_col):
            scratch_lines.append(",".join(row))  # reported as malformed (no TAB) with its line number
        else:
            scratch_lines.append(f"{row[image_col]}\t{row[text_col]}")


def _gt_line(raw: str) -> str:
    """An ICDAR-style `word_1.png, "Tiredness"` line as `word_1.png<TAB>Tiredness` (others unchanged)."""
    if "\t" in raw or ", " not in raw:
        return raw
    name, label = raw.split(", ", 1)
    if len(label) >= 2 and label[0] == label[-1] == '"':
        label = label[1:-1].replace('\\"', '"')
    return f"{name}\t{label}"


def _load_text_format(fmt: str, path: Path, charset: Charset, allow_empty: bool, skip_bad: bool):
    if fmt == "paddle":
        text = path.read_text(encoding="utf-8-sig", errors="strict") if path.is_file() else ""
        if "\t" in text or not text.strip():
            return load_label_file(path, charset, allow_empty=allow_empty, skip_bad=skip_bad)
        lines = [_gt_line(line.rstrip("\r")) for line in text.split("\n")]
    else:
        lines = [""]  # the CSV header is line 1 of the user's file: keep line numbers matching it
        _csv_as_label_file(path, lines)
    return check_label_lines(lines, path.parent, str(path), charset, allow_empty, skip_bad)


class LmdbProblem(LabelProblem):
    """A bad LMDB sample; its reason names the key, so no line number is shown."""

    def __str__(self) -> str:
        return self.reason


class LmdbLineDataset(Dataset):
    """Lines of an LMDB text-recognition dataset, checked up front; item `i` is `(image tensor, label)`.

    The environment is opened lazily in each process (LMDB handles do not survive a fork).
    """

    def __init__(
        self,
        root: Path,
        charset: Charset,
        image_height: int = 32,
        max_image_width: int = 1024,
        width_scale: float = 1.0,
        allow_empty: bool = True,
        skip_bad: bool = False,
        limit: int | None = None,
    ) -> None:
        self.root, self.image_height, self.max_image_width = Path(root), image_height, max_image_width
        self.width_scale = width_scale
        self._env = None
        self.problems: list[LabelProblem] = []
        indices, labels, widths = [], [], []
        try:
            with self._open().begin() as txn:
                raw = txn.get(b"num-samples")
                if raw is None:
                    raise DataError(
                        f"LMDB {str(self.root)!r} has no 'num-samples' key; not a text-recognition LMDB"
                    )
                try:
                    count = int(raw.decode("ascii").strip())
                except ValueError:
                    raise DataError(
                        f"LMDB {str(self.root)!r}: num-samples={raw[:20]!r} is not a number"
                    ) from None
                if limit:  # the first `limit` samples
                    count = min(count, limit)
                for index in range(1, count + 1):
                    result = self._check(txn, index, charset, allow_empty)
                    if isinstance(result, LabelProblem):
                        self.problems.append(result)
                        continue
                    label, (width, height) = result
                    indices.append(index)
                    labels.append(label)
                    widths.append(max(1, int(round(width * width_scale * image_height / max(height, 1)))))
        finally:  # reopened in whichever process reads images (and never left open after an error)
            self._env.close()
            self._env = None
        if self.problems and not skip_bad:
            shown = "; ".join(str(p) for p in self.problems[:SHOWN_PROBLEMS])
            more = (
                f" (and {len(self.problems) - SHOWN_PROBLEMS} more)"
                if len(self.problems) > SHOWN_PROBLEMS
                else ""
            )
            raise DataError(
                f"LMDB {self.root}: {len(self.problems)} bad sample(s): {shown}{more}; "
                "pass --skip-bad-samples to skip them"
            )
        if not indices:
            raise DataError(f"LMDB {str(self.root)!r} has no usable sample ({len(self.problems)} bad)")
        self.indices = np.array(indices, dtype=np.int64)
        self.labels = labels
        self._widths = np.minimum(np.array(widths, dtype=np.int64), max_image_width)

    def _open(self):
        if self._env is None:
            import lmdb

            try:
                self._env = lmdb.open(
                    str(self.root), readonly=True, lock=False, readahead=False, meminit=False, max_readers=64
                )
            except lmdb.Error as exc:
                raise DataError(f"LMDB {str(self.root)!r} cannot be opened ({exc})") from None
        return self._env

    @staticmethod
    def _check(txn, index: int, charset: Charset, allow_empty: bool):
        label_raw = txn.get(b"label-%09d" % index)
        image_raw = txn.get(b"image-%09d" % index)
        if label_raw is None:
            return LmdbProblem(index, "malformed", f"label-{index:09d} is missing")
        if image_raw is None:
            return LmdbProblem(index, "missing_file", f"image-{index:09d} is missing")
        try:
            label = label_raw.decode("utf-8")
        except UnicodeDecodeError:
            return LmdbProblem(index, "malformed", f"label-{index:09d} is not UTF-8")
        try:
            with Image.open(io.BytesIO(image_raw)) as image:
                size = image.size
                image.verify()
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,
        ) as exc:
            return LmdbProblem(index, "unreadable_image", f"image-{index:09d} cannot be decoded ({exc})")
        if not label and not allow_empty:
            return LmdbProblem(index, "empty_label", f"label-{index:09d} is empty")
        missing = charset.missing(label)
        if missing:
            return LmdbProblem(
                index,
                "bad_chars",
                f"label-{index:09d} {label[:40]!r} has characters outside charset {charset.name!r}: "
                f"{_describe_chars(missing)}",
            )
        return label, size

    def __len__(self) -> int:
        return len(self.labels)

    def label(self, index: int) -> str:
        """The label of line `index`."""
        return self.labels[index]

    def describe(self, index: int) -> str:
        """A short note on line `index` for previews: its LMDB key."""
        return f"image-{int(self.indices[index]):09d}"

    def source(self, index: int) -> str:
        """Where line `index` comes from, for predictions files."""
        return f"lmdb:{self.root}:{int(self.indices[index])}"

    def width_hint(self, index: int) -> int:
        """Pixel width of line `index` after resizing."""
        return int(self._widths[index])

    def width_hints(self) -> np.ndarray:
        """Widths of all lines after resizing."""
        return self._widths

    def load_image(self, index: int) -> Image.Image:
        """Line `index` as a mode "L" image resized to `image_height` (and stretched by `width_scale`)."""
        key = b"image-%09d" % int(self.indices[index])
        with self._open().begin() as txn:
            data = txn.get(key)
        with Image.open(io.BytesIO(data)) as image:
            grey = image.convert("L")
        size = (int(self._widths[index]), self.image_height)
        return grey if grey.size == size else grey.resize(size, Image.Resampling.BILINEAR)

    def pixels(self, index: int) -> LinePixels:
        """Line `index` as uint8 (H, W) pixels with its label."""
        return np.asarray(self.load_image(index)), self.labels[index]

    def __getitem__(self, index: int) -> LineSample:
        pixels, label = self.pixels(index)
        return pixels_to_tensor(pixels), label

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_env"] = None
        return state


def open_real_dataset(
    data: str | Path,
    charset: Charset,
    *,
    image_height: int = 32,
    max_image_width: int = 1024,
    width_scale: float = 1.0,
    allow_empty: bool = True,
    skip_bad: bool = False,
    too_wide: str = "resize",
    limit: int | None = None,
) -> RealDataset:
    """Open a real line dataset in any supported format (see the module docstring); `limit` keeps the first
    that many usable lines.

    Raises:
        DataError: nothing usable at `data`; a bad sample when `skip_bad` is False; no usable sample.
    """
    fmt, path = detect_format(data)
    if fmt == LMDB_FORMAT:
        dataset = LmdbLineDataset(
            path,
            charset,
            image_height,
            max_image_width,
            width_scale,
            allow_empty=allow_empty,
            skip_bad=skip_bad,
        )
        return RealDataset(dataset, dataset.problems, fmt, f"{path} (LMDB, {len(dataset)} lines)")
    try:
        samples, problems = _load_text_format(fmt, path, charset, allow_empty, skip_bad)
    except UnicodeDecodeError as exc:
        raise DataError(f"{str(path)!r} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if limit:
        samples = samples[:limit]
    dataset = LabelledLineDataset(
        samples, image_height, max_image_width, too_wide=too_wide, width_scale=width_scale
    )
    kind = "CSV" if fmt == "csv" else "label file"
    return RealDataset(dataset, problems, fmt, f"{path} ({kind}, {len(dataset)} lines)")
