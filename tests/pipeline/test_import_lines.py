"""The line sets of an import: calibration, sensitivity and measured lines never share a line, their sizes
are recorded, hard lines are drawn apart (held-out fonts, heavy disturbance), and the variant registry
offers the import kinds with typed specs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline.deploy.foreign_model import ImportRefused
from pipeline.variants.catalog import import_kinds, resolve_specs
from pipeline.variants.import_lines import HARD_LINES
from pipeline.variants.imported import ImportSettings, import_config, prepare_import
from pipeline.variants.specs import OrtInt8MixedSpec
from tests.import_models import HEIGHT, tiny_recognizer


def _label_file(folder, count: int):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(count):
        pixels = np.full((HEIGHT, 64), 235, np.uint8)
        pixels[4:12, 4 : 8 + int(rng.integers(0, 50))] = 20
        Image.fromarray(pixels).save(folder / f"{i}.png")
        lines.append(f"{i}.png\t{'abcdefghij'[i % 10] * (1 + i % 3)}")
    (folder / "labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "labels.tsv"


def _sources(batches) -> set[str]:
    return {source for batch in batches for source in batch.sources}


def test_label_file_is_cut_into_three_disjoint_sets(tmp_path):
    labels = _label_file(tmp_path, 30)
    settings = ImportSettings(
        model=tiny_recognizer(tmp_path / "m.onnx"), data=str(labels), lines=100,
        calibration_lines=8, sensitivity_lines=6, hard_lines=5,
    )  # fmt: skip
    prepared = prepare_import(settings)
    calibration, sensitivity = _sources(prepared.calibration_batches), _sources(prepared.sensitivity_batches)
    measured = _sources(prepared.test_batches)
    assert (len(calibration), len(sensitivity), len(measured)) == (8, 6, 16)
    assert not (calibration & sensitivity) and not (calibration & measured) and not (sensitivity & measured)
    sizes = prepared.lines.sizes()
    assert sizes == {
        "calibration_lines": 8, "sensitivity_lines": 6, "clean_lines": 16, "hard_lines": 5,
        "hard_definition": HARD_LINES,
    }  # fmt: skip
    hard = _sources(prepared.hard_batches)
    assert len(hard) == 5 and all(s.startswith("synthetic:test:held_out:") for s in hard)
    assert "16 measured lines, 8 calibration lines, 6 sensitivity lines; 5 hard lines" in prepared.data_label


def test_too_few_lines_for_calibration_and_sensitivity_is_refused(tmp_path):
    labels = _label_file(tmp_path, 10)
    settings = ImportSettings(
        model=tiny_recognizer(tmp_path / "m.onnx"), data=str(labels), calibration_lines=6, sensitivity_lines=4
    )
    with pytest.raises(
        ImportRefused, match="has 10 lines, not more than --calibration-lines 6 \\+ --sensitivity-lines 4"
    ):
        prepare_import(settings)


def test_synthetic_sets_are_drawn_from_separate_streams(tmp_path):
    settings = ImportSettings(
        model=tiny_recognizer(tmp_path / "m.onnx"), data="synthetic", lines=6,
        calibration_lines=4, sensitivity_lines=4, hard_lines=0,
    )  # fmt: skip
    prepared = prepare_import(settings)
    splits = [{s.split(":")[1] for s in _sources(b)} for b in (prepared.calibration_batches,
              prepared.sensitivity_batches, prepared.test_batches)]  # fmt: skip
    assert splits == [{"train"}, {"val"}, {"test"}]
    assert prepared.hard_batches == [] and prepared.lines.sizes()["hard_definition"] == "none: --hard-lines 0"


def test_import_kinds_resolve_to_typed_specs_through_the_registry(tmp_path):
    assert import_kinds() == ("ort-int8-dynamic", "ort-int8-static", "ort-int4-weight", "ort-int8-mixed")
    settings = ImportSettings(
        model=tmp_path / "m.onnx", data="synthetic", mixed_budget_pp=0.2, observer_type="percentile"
    )
    specs = {spec.name: spec for spec in resolve_specs(import_config(settings, HEIGHT, "x"))}
    assert list(specs) == ["ort-fp32", *import_kinds()]
    mixed = specs["ort-int8-mixed"]
    assert isinstance(mixed, OrtInt8MixedSpec) and mixed.accuracy_budget_pp == 0.2
    assert mixed.observer_type == specs["ort-int8-static"].observer_type == "percentile"
