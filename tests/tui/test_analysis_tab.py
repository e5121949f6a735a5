"""The Analysis tab appears once an experiment has an analysis and shows its summary and alignments."""

from __future__ import annotations

import json

import pytest
from textual.widgets import TabbedContent

from tests.tui.conftest import wait_for
from tests.tui.store_fixtures import IDS
from tui.screens.experiment import ExperimentScreen
from tui.widgets.experiment.analysis import AnalysisView, analysis_text

pytestmark = pytest.mark.anyio

DOC = {
    "data": {"description": "test set (2 synthetic lines)", "lines": 2},
    "variants": ["fp32", "ort-int8-dynamic"],
    "errors": {
        "fp32": {
            "cer": 0.1,
            "kinds": {"substitution": 3},
            "confusions": [{"label": "l", "pred": "1", "count": 3}],
        },
        "ort-int8-dynamic": {"cer": 0.12, "kinds": {"substitution": 4}, "confusions": []},
    },
    "changes": {"ort-int8-dynamic": {"flips": {"broke": [0, 1], "fixed": [5]}, "argmax_agreement": 0.98}},
    "robustness": {"gaps": {"ort-int8-dynamic": {"gap": 0.0123}}},
    "confidence": {"fp32": {"ece": 0.05}, "ort-int8-dynamic": {"ece": 0.07}},
    "alignment": {
        "ort-int8-dynamic": [{"index": 4, "text": "label 'ab'\nfp32      a·b\nint8      a·a\n  diff      ^"}]
    },
    "figures": ["error_kinds.png"],
}


def test_analysis_text_holds_the_summary():
    text = analysis_text(DOC).plain
    assert "ort-int8-dynamic" in text and "12.00%" in text and "+1.23" in text and "0.070" in text
    assert "ΔCER pp" in text and "+2.00" in text  # the CER change beside the flips that explain it
    assert "'l'→'1' ×3" in text and "a·a" in text and "error_kinds.png" in text


async def test_the_tab_appears_with_an_analysis(filled_store, make_app, tmp_path):
    app = make_app(filled_store)
    async with app.run_test(size=(100, 30)) as pilot:
        pilot.app.open_experiment(IDS["baseline"])
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, ExperimentScreen) and pilot.app.screen.document is not None,
            what="the experiment to load",
        )
        screen = pilot.app.screen
        assert not screen.query(AnalysisView)  # no analysis yet: no tab
        path = tmp_path / "analysis.json"
        path.write_text(json.dumps(DOC))
        filled_store.record_artifact(
            IDS["baseline"], kind="analysis", path=str(path), bytes=path.stat().st_size
        )
        await wait_for(pilot, lambda: bool(screen.query(AnalysisView)), what="the analysis tab")
        screen.query_one(TabbedContent).active = "analysis"
        view = screen.query_one(AnalysisView)
        await wait_for(
            pilot, lambda: "broke" in str(view.query_one("#analysis-text").render()), what="the text"
        )
        shown = str(view.query_one("#analysis-text").render())
        assert "a·a" in shown and "ort-int8-dynamic" in shown
