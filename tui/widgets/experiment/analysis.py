"""The Analysis tab of an experiment: the summary of its latest `ocrq analyze` (error kinds, top confusions,
flips per variant, robustness gap, ECE), the text alignment views (frames as columns) and the figure paths.

The tab appears only once an experiment has an analysis (so screens of other experiments are unchanged).
It reads `analysis.json` (an artifact the CLI recorded) in a thread, again only when the file changed;
figures preview in the Artifacts tab, where they are listed with kind `analysis-figure`.
"""

from __future__ import annotations

import json
import os
import weakref
from typing import Any

from rich.text import Text
from textual import work
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static, TabbedContent, TabPane

ANALYSIS_TAB = "analysis"
_ADDED: weakref.WeakSet = weakref.WeakSet()
KINDS = ("substitution", "insertion", "deletion", "transposition", "space", "case", "punctuation")


def analysis_path(artifacts: list[dict[str, Any]]) -> str | None:
    """The analysis.json recorded last, if any."""
    paths = [
        str(a.get("path"))
        for a in artifacts
        if a.get("kind") == "analysis" and str(a.get("path", "")).endswith("analysis.json")
    ]
    return paths[-1] if paths else None


def _pct(value: Any) -> str:
    return f"{100 * value:.2f}%" if isinstance(value, int | float) else "-"


def _delta_pp(cer: Any, fp32_cer: Any) -> str:
    """CER change against FP32 in percentage points, beside the flips that explain it."""
    if not isinstance(cer, int | float) or not isinstance(fp32_cer, int | float):
        return "-"
    return f"{100 * (cer - fp32_cer):+.2f}"


def analysis_text(doc: dict[str, Any]) -> Text:
    """The analysis document as plain, aligned text (no markup is read from the document)."""
    text = Text()
    data = doc.get("data", {})
    text.append(f"{data.get('description', '')}\n\n", style="bold")
    errors = doc.get("errors") or {}
    changes = doc.get("changes") or {}
    gaps = (doc.get("robustness") or {}).get("gaps", {})
    confidence = doc.get("confidence") or {}
    header = f"{'variant':<22}{'CER':>9}{'ΔCER pp':>9}{'broke':>7}{'fixed':>7}{'agree':>9}{'gap pp':>9}{'ECE':>7}\n"
    fp32_cer = (errors.get("fp32") or {}).get("cer")
    text.append(header, style="bold")
    for variant in doc.get("variants", []):
        flips = (changes.get(variant) or {}).get("flips")
        gap = (gaps.get(variant) or {}).get("gap")
        ece = (confidence.get(variant) or {}).get("ece")
        text.append(
            f"{variant[:21]:<22}{_pct((errors.get(variant) or {}).get('cer')):>9}"
            f"{_delta_pp((errors.get(variant) or {}).get('cer'), fp32_cer):>9}"
            f"{len(flips['broke']) if flips else '-':>7}{len(flips['fixed']) if flips else '-':>7}"
            f"{_pct((changes.get(variant) or {}).get('argmax_agreement')):>9}"
            f"{f'{100 * gap:+.2f}' if isinstance(gap, int | float) else '-':>9}"
            f"{f'{ece:.3f}' if isinstance(ece, int | float) else '-':>7}\n"
        )
    if errors:
        text.append("\nerror kinds\n", style="bold")
        text.append(f"{'variant':<22}" + "".join(f"{k[:6]:>8}" for k in KINDS) + "\n")
        for variant, report in errors.items():
            kinds = report.get("kinds", {})
            text.append(f"{variant[:21]:<22}" + "".join(f"{kinds.get(k, 0):>8}" for k in KINDS) + "\n")
        pairs = (errors.get("fp32") or {}).get("confusions", [])[:10]
        if pairs:
            text.append("\ntop confusions (fp32): ", style="bold")
            text.append(", ".join(f"{p['label']!r}→{p['pred']!r} ×{p['count']}" for p in pairs) + "\n")
    for variant, entries in (doc.get("alignment") or {}).items():
        for entry in entries[:2]:
            text.append(f"\nalignment {variant}, line {entry.get('index')}\n", style="bold")
            text.append(str(entry.get("text", "")) + "\n")
    if doc.get("figures"):
        text.append("\nfigures (preview in the Artifacts tab): ", style="bold")
        text.append(", ".join(doc["figures"]) + "\n")
    return text


class AnalysisLoaded(Message):
    """The text of an analysis.json, or why it could not be read."""

    def __init__(self, path: str, text: Text) -> None:
        super().__init__()
        self.path, self.text = path, text


class AnalysisView(VerticalScroll):
    """The analysis summary and alignments, scrollable."""

    DEFAULT_CSS = "AnalysisView { height: 1fr; }"

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._first_path = path
        self._shown: tuple[str, float] | None = None

    def compose(self):
        yield Static(Text("reading the analysis…", style="dim"), id="analysis-text")

    def on_mount(self) -> None:
        self.show(self._first_path)

    def show(self, path: str) -> None:
        """Read `path` in a thread when it is new or changed since last shown."""
        try:
            stamp = (path, os.stat(path).st_mtime)
        except OSError:
            self.query_one("#analysis-text", Static).update(Text(f"{path} is missing", style="red"))
            return
        if stamp != self._shown:
            self._shown = stamp
            self._load(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis", description="analysis")
    def _load(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as handle:
                text = analysis_text(json.load(handle))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            text = Text(f"cannot read {path}: {error}", style="red")
        self.post_message(AnalysisLoaded(path, text))

    def on_analysis_loaded(self, message: AnalysisLoaded) -> None:
        message.stop()
        self.query_one("#analysis-text", Static).update(message.text)


def show_analysis(tabs: TabbedContent, artifacts: list[dict[str, Any]]) -> None:
    """Add the Analysis tab to an experiment's tabs once it has an analysis, and keep it current."""
    path = analysis_path(artifacts)
    if path is None:
        return
    views = tabs.query(AnalysisView)
    if views:
        views.first().show(path)
    elif tabs not in _ADDED:  # adding a pane completes later: never add it twice
        _ADDED.add(tabs)
        tabs.add_pane(TabPane("Analysis", AnalysisView(path, id="analysis-view"), id=ANALYSIS_TAB))
