"""Console output shared by the commands: data on stdout, messages and errors on stderr."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from rich.console import Console

from store.display import fmt_bytes, fmt_fixed, fmt_num, fmt_pct, fmt_ratio, fmt_time  # noqa: F401  (the CLI's spellings)

# Piped output is read by people too (CI logs, `| less`): give tables room instead of 80 columns.
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """A known failure: printed as one line on stderr, exit code 1 (runtime) or 2 (usage)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)


# C0 controls (newline and tab included), DEL and C1 controls: ESC starts ANSI/OSC sequences that could
# recolour, retitle or clear the terminal, or write the clipboard (OSC 52); a newline breaks table rows.
# Line separators and bidi overrides reorder or split what is shown, so they are escaped too.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def has_control_chars(text: str) -> bool:
    """Whether `text` holds a control character (ESC, newline, tab, BEL, ...)."""
    return bool(_CONTROL.search(text))


def terminal_safe(text: Any) -> str:
    """`text` with every control character written as a visible escape (`\\x1b`, `\\n`), so stored names,
    tags and notes never reach the terminal as raw escape sequences or break a table row."""
    text = "" if text is None else str(text)
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def refuse_control_chars(what: str, text: str) -> None:
    """A usage error (exit 2) when user input meant for the store holds control characters."""
    if has_control_chars(text):
        raise UsageError(
            f"{what} '{terminal_safe(text)}' holds control characters (escape sequences, newlines, tabs); "
            "use printable text"
        )


def one_line(text: Any) -> str:
    """An error message as one terminal-safe line (multi-line library errors are joined)."""
    return " ".join(terminal_safe(line) for line in str(text).split()).strip()


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, NaN/inf written as null."""
    sys.stdout.write(json.dumps(_json_safe(data), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def info(message: str) -> None:
    err.print(message)


_ANSI = {"green": "32", "cyan": "36", "red": "31", "yellow": "33", "dim": "2"}


def color(text: str, style: str | None) -> str:
    """ANSI-coloured text when stdout is a terminal (and NO_COLOR is unset), else the text itself."""
    import os

    if not style or not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    return f"\x1b[{_ANSI[style]}m{text}\x1b[0m"


def write_table(
    headers: list[str],
    rows: list[list[str]],
    *,
    right: set[str] = frozenset(),
    max_width: dict[str, int] | None = None,
    styles: list[dict[int, str]] | None = None,
) -> None:
    """A plain aligned table written straight to stdout: fast for 10,000 rows, where rich tables are not."""
    max_width = max_width or {}
    rows = [[terminal_safe(cell) for cell in row] for row in rows]
    clipped = [[_clip(cell, max_width.get(h)) for h, cell in zip(headers, row, strict=True)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in clipped]) for i, h in enumerate(headers)]

    def line(cells: list[str], row_styles: dict[int, str] | None = None) -> str:
        parts = []
        for i, (h, cell) in enumerate(zip(headers, cells, strict=True)):
            padded = cell.rjust(widths[i]) if h in right else cell.ljust(widths[i])
            parts.append(color(padded, (row_styles or {}).get(i)))
        return "  ".join(parts).rstrip()

    out_lines = [color(line(headers), None)]
    for index, row in enumerate(clipped):
        out_lines.append(line(row, styles[index] if styles else None))
    sys.stdout.write("\n".join(out_lines) + "\n")
    sys.stdout.flush()


def _clip(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[: max(1, width - 1)] + "…"
