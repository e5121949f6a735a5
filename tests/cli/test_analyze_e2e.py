"""`ocrq analyze` on real smoke experiments: every part runs and writes its files, which are recorded as
artifacts; flips match the readings; severity 0 equals the clean CER; compare shows flips; ranking."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RUN = ["run", "--template", "smoke", "--epochs", "1", "--num-test", "32", "--threads", "1", "-q"]


@pytest.fixture(scope="module")
def smoke_home(tmp_path_factory):
    """Two real smoke experiments (ONNX int8 and torch fp16 variants) in one store."""
    from cli.main import main

    home = tmp_path_factory.mktemp("home")
    previous = os.environ.get("OCRQ_HOME")
    os.environ["OCRQ_HOME"] = str(home)
    try:
        assert main([*RUN, "--name", "a", "--variants", "ort-int8-dynamic,fp16"]) == 0
        assert main([*RUN, "--name", "b", "--variants", "ort-int8-dynamic", "--seed", "1"]) == 0
        yield home
    finally:
        if previous is None:
            os.environ.pop("OCRQ_HOME", None)
        else:
            os.environ["OCRQ_HOME"] = previous


@pytest.fixture(scope="module")
def analysed(smoke_home):
    from cli.main import main

    os.environ["OCRQ_HOME"] = str(smoke_home)
    started = time.monotonic()
    code = main(["analyze", "a", "--robustness-lines", "32", "--alignment-count", "2", "-q", "--json"])
    seconds = time.monotonic() - started
    assert code == 0
    doc = json.loads((next((smoke_home / "experiments").glob("*/analysis/analysis.json"))).read_text())
    return smoke_home, doc, seconds


@pytest.fixture
def home(smoke_home, ocrq_home, monkeypatch):
    monkeypatch.setenv("OCRQ_HOME", str(smoke_home))
    return smoke_home


def test_every_part_runs_and_writes_recorded_files(analysed, home, ocrq):
    _, doc, seconds = analysed
    assert doc["variants"] == ["fp32", "ort-int8-dynamic", "fp16"]
    for part in ("errors", "changes", "alignment", "robustness", "confidence", "training"):
        assert part in doc and part in doc["seconds"], part
    code, out, _ = ocrq("show", "a", "--json")
    artifacts = {
        Path(a["path"]).name: a for a in json.loads(out)["artifacts"] if a["kind"].startswith("analysis")
    }
    for name in (
        "analysis.json",
        "analysis.md",
        "error_kinds.png",
        "robustness.png",
        "reliability.png",
        "rejection.png",
    ):
        assert name in artifacts, name
    for name in doc["figures"]:
        assert name in artifacts and Path(artifacts[name]["path"]).stat().st_size == artifacts[name]["bytes"]
    assert any(n.startswith("alignment_fp16_") for n in doc["figures"])
    assert "augmentations_alone.png" in doc["figures"]
    print(f"ocrq analyze (smoke, 32 lines, 3 variants, all parts): {seconds:.1f}s; by part {doc['seconds']}")


def test_flips_are_the_lines_whose_correctness_changed(analysed):
    _, doc, _ = analysed
    for variant, change in doc["changes"].items():
        for line in change["flipped_lines"]:
            assert (line["fp32"] == line["label"]) != (line["variant"] == line["label"]), line
        broke = [f["index"] for f in change["flipped_lines"] if f["fp32"] == f["label"]]
        assert broke == change["flips"]["broke"], variant
        assert 0.0 <= change["argmax_agreement"] <= 1.0


def test_severity_zero_is_the_clean_cer(analysed):
    _, doc, _ = analysed
    assert doc["robustness"]["lines"] == doc["data"]["lines"] == 32
    for variant, curves in doc["robustness"]["curves"].items():
        for name, values in curves.items():
            assert len(values) == 6
            assert values[0] == pytest.approx(doc["errors"][variant]["cer"]), (variant, name)


def test_kinds_and_confidence_are_consistent(analysed):
    _, doc, _ = analysed
    for variant, report in doc["errors"].items():
        assert set(report["kinds"]) == {
            "substitution",
            "insertion",
            "deletion",
            "transposition",
            "space",
            "case",
            "punctuation",
        }
        conf = doc["confidence"][variant]
        assert 0.0 <= conf["ece"] <= 1.0 and conf["rejection"][0]["kept"] == 1.0
        assert conf["rejection"][0]["cer"] == pytest.approx(report["cer"])
    for entries in doc["alignment"].values():
        for entry in entries:
            assert entry["text"].startswith("label ")


def test_compare_shows_flip_counts(analysed, home, ocrq):
    _, doc, _ = analysed
    code, out, _ = ocrq("compare", "a", "b")
    assert code == 0 and "flips -/+" in out
    code, out, _ = ocrq("compare", "a", "b", "--json")
    flips = next(iter(v for v in json.loads(out)["flips"].values() if v))
    assert flips["ort-int8-dynamic"]["broke"] == len(doc["changes"]["ort-int8-dynamic"]["flips"]["broke"])


def test_ranking_across_experiments(analysed, home, ocrq):
    code, out, err = ocrq(
        "analyze",
        "a",
        "b",
        "--robustness-lines",
        "8",
        "--weight",
        "cer=1",
        "--weight",
        "size=0",
        "-q",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    ranking = doc["ranking"]
    assert [r["rank"] for r in ranking] == list(range(1, len(ranking) + 1))
    assert {r["variant"] for r in ranking} >= {"fp32", "ort-int8-dynamic"}
    assert all(ranking[i]["score"] >= ranking[i + 1]["score"] for i in range(len(ranking) - 1))
    assert all(Path(p).is_file() for p in doc["figures"])
