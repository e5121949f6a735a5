"""Character sets for CTC recognizers: class 0 is the blank, characters are classes 1..N."""

from __future__ import annotations

import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# 94 printable ASCII characters plus the space, in code-point order.
ASCII_CHARS = "".join(chr(code) for code in range(32, 127))
DIGIT_CHARS = string.digits
ALNUM_CHARS = string.digits + string.ascii_lowercase + string.ascii_uppercase

BUILTIN_CHARSETS: dict[str, str] = {"ascii": ASCII_CHARS, "digits": DIGIT_CHARS, "alnum": ALNUM_CHARS}
DEFAULT_CHARSET = "ascii"


def _describe_chars(chars: Iterable[str], limit: int = 10) -> str:
    """A readable, bounded list of characters with their code points (invisible ones stay visible)."""
    ordered = sorted(set(chars))
    shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in ordered[:limit])
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return shown + more


class Charset:
    """An ordered, case-sensitive set of characters; index i in `chars` is CTC class i + 1.

    Args:
        name: Where the characters came from (a built-in name or the file path).
        chars: The characters, each exactly once.
    """

    def __init__(self, name: str, chars: str) -> None:
        if not chars:
            raise ValueError(f"charset {name!r} is empty; it needs at least one character")
        seen: set[str] = set()
        duplicates = [c for c in chars if c in seen or seen.add(c)]
        if duplicates:
            raise ValueError(f"charset {name!r} has duplicate characters: {_describe_chars(duplicates)}")
        self.name = name
        self.chars = chars
        self._index = {c: i + 1 for i, c in enumerate(chars)}

    @classmethod
    def from_spec(cls, spec: str = DEFAULT_CHARSET) -> Charset:
        """Build a charset from a built-in name or a file.

        Args:
            spec: "ascii" (94 printable characters plus space), "digits", "alnum" (digits and both
                cases), or a path to a UTF-8 file with one character per line (a line holding a single
                space means space; empty lines are skipped).

        Raises:
            ValueError: unknown name, missing or empty file, a line with more than one character, or
                duplicate characters.
        """
        spec = str(spec)
        if spec in BUILTIN_CHARSETS:
            return cls(spec, BUILTIN_CHARSETS[spec])
        path = Path(spec)
        looks_like_path = path.suffix != "" or "/" in spec or "\\" in spec
        if not path.exists():
            if looks_like_path:
                raise ValueError(f"charset file {spec!r} does not exist")
            raise ValueError(
                f"unknown charset {spec!r}; use one of {', '.join(BUILTIN_CHARSETS)} or a path to a "
                "UTF-8 file with one character per line"
            )
        if not path.is_file():
            raise ValueError(f"charset path {spec!r} is not a file")
        return cls(spec, _read_charset_file(path))

    @property
    def num_classes(self) -> int:
        """Number of model outputs: the characters plus the CTC blank."""
        return len(self.chars) + 1

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Charset) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        return f"Charset(name={self.name!r}, size={len(self.chars)})"

    def missing(self, text: str) -> set[str]:
        """Characters of `text` that the charset cannot encode."""
        return {c for c in text if c not in self._index}

    def filter(self, text: str) -> str:
        """`text` with every character outside the charset removed."""
        return "".join(c for c in text if c in self._index)

    def encode(self, text: str) -> list[int]:
        """Class ids (1..N) of each character of `text`.

        Raises:
            ValueError: naming the characters outside the charset.
        """
        try:
            return [self._index[c] for c in text]
        except KeyError:
            raise ValueError(
                f"text {text[:60]!r} has characters outside charset {self.name!r}: "
                f"{_describe_chars(self.missing(text))}"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text for class ids that are already CTC-collapsed; blanks (0) are skipped.

        Raises:
            ValueError: an id is negative or larger than the number of characters.
        """
        out = []
        for raw in ids:
            class_id = int(raw)
            if class_id == 0:
                continue
            if not 0 < class_id <= len(self.chars):
                raise ValueError(f"class id {class_id} is out of range; allowed 0..{len(self.chars)}")
            out.append(self.chars[class_id - 1])
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, saved with checkpoints so a model loads without the charset file."""
        return {"name": self.name, "chars": self.chars}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Charset:
        """Inverse of `to_dict`."""
        if not isinstance(data, dict) or not isinstance(data.get("chars"), str):
            raise ValueError("charset dict must have a string 'chars' entry")
        return cls(str(data.get("name", "custom")), data["chars"])


def _read_charset_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"charset file {str(path)!r} is not valid UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    chars: list[str] = []
    first_line: dict[str, int] = {}
    for line_number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line == "":
            continue
        if len(line) != 1:
            raise ValueError(
                f"charset file {str(path)!r} line {line_number}: expected one character, got {line[:20]!r}"
            )
        if line in first_line:
            raise ValueError(
                f"charset file {str(path)!r} line {line_number}: duplicate character {line!r} "
                f"(first on line {first_line[line]})"
            )
        first_line[line] = line_number
        chars.append(line)
    if not chars:
        raise ValueError(f"charset file {str(path)!r} is empty; put one character per line")
    return "".join(chars)
