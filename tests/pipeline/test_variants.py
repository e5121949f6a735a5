"""End to end: a briefly trained crnn_tiny, every kind of variant produced, measured, recorded and reloaded."""

from __future__ import annotations

import json

import pytest
import torch

from pipeline.config import resolve_config
from pipeline.core.checkpoint import save_checkpoint
from pipeline.core.events import ArtifactSaved, EpochEnded, VariantEvaluated
from pipeline.core.result_row import VariantRow
from pipeline.evaluation.predict import predict
from pipeline.models import create_model
from pipeline.models.layers import weight_layers
from pipeline.runner import prepare_experiment
from pipeline.training.fit import FitSettings, fit
from pipeline.variants.load import deployable_artifact, load_recognizer
from pipeline.variants.measure import compare, fp32_torch_row, guard_message
from pipeline.variants.produce import produce_variants
from pipeline.variants.remeasure import remeasure_experiment

VARIANTS = (
    "ort-fp32,ort-int8-dynamic,ort-int8-static,ort-int4-weight,fp16,ptq,qat,pruned-int8,mixed,ort-int8-mixed"
)
# Cosine similarity of the logits to FP32 that each variant must keep on this small model.
MIN_COSINE = {
    "ort-fp32": 0.9999,
    "fp16": 0.999,
    "ort-int8-dynamic": 0.98,
    "ort-int8-static": 0.97,
    "ort-int8-mixed": 0.97,
    "ort-int4-weight": 0.95,
    "ptq": 0.9,
    "qat": 0.85,
    "mixed": 0.9,
    "pruned-int8": 0.5,
}


def _config(**overrides):
    values = {
        "model": "crnn_tiny",
        "variants": VARIANTS,
        "num_train": "128",
        "num_val": "32",
        "num_test": "32",
        "batch_size": "16",
        "epochs": "2",
        "calibration_batches": "1",
        "latency_runs": "3",
        "qat_epochs": "1",
        "finetune_epochs": "1",
        "enable_pruning": "true",
        "pruning_ratio": "0.3",
        "threads": "1",
        "quantization_granularity": "per_group",
        **overrides,
    }
    return resolve_config("smoke", overrides=values)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    torch.manual_seed(0)
    workdir = tmp_path_factory.mktemp("experiment")
    prepared = prepare_experiment(_config())
    data, charset, config = prepared.data, prepared.charset, prepared.config
    model = create_model("crnn_tiny", num_classes=charset.num_classes)
    events: list = []
    device = torch.device("cpu")
    result = fit(
        model,
        FitSettings.from_train_config(config.train),
        train_batches=data.train_batches,
        steps_per_epoch=data.steps_per_epoch,
        validate=lambda m: predict(m, data.val_batches(), charset, device),
        device=device,
        sink=events.append,
    )
    model = result.eval_model.eval()
    size = save_checkpoint(
        workdir / "model_fp32.pt",
        {"model_config": model.config(), "charset": charset.to_dict(), "weights": model.state_dict()},
    )
    test = predict(model, data.test_batches(), charset, device)
    fp32_row = fp32_torch_row(test, model, workdir / "model_fp32.pt", config.deploy, device)
    assert fp32_row.size_bytes == size
    events.clear()
    rows = produce_variants(model, prepared, fp32_row, test, events.append, workdir, device)
    return {
        "rows": {name: row.to_dict() for name, row in rows.items()},
        "typed_rows": rows,
        "fp32": fp32_row.to_dict(),
        "events": events,
        "workdir": workdir,
        "prepared": prepared,
        "model": model,
    }


def test_every_listed_variant_is_measured_with_the_same_columns(experiment):
    rows = experiment["rows"]
    assert set(rows) == set(VARIANTS.split(","))
    keys = (
        "cer",
        "em",
        "ned",
        "samples",
        "size_bytes",
        "bits_per_weight",
        "params",
        "nonzero_params",
        "latency_ms_p50",
        "latency_ms_p95",
        "throughput_lines_per_s_b16",
        "latency_threads",
        "fidelity",
        "compression_ratio",
        "speedup",
        "cer_delta_pp",
        "accuracy_guard",
        "backend",
        "artifact",
        "float_layers",
        "notes",
    )
    for name, row in rows.items():
        missing = [key for key in keys if key not in row]
        assert not missing, (name, missing)
        assert row["samples"] == 32
        assert row["fidelity"]["cosine"] >= MIN_COSINE[name], (name, row["fidelity"])
    evaluated = [e.name for e in experiment["events"] if isinstance(e, VariantEvaluated)]
    assert (
        evaluated[-1] == "fp32" and experiment["fp32"]["compression_ratio"] < 1.5
    )  # fp32 row gets its ratio too


def test_recorded_sizes_are_the_files_on_disk(experiment):
    saved = {e.path: e.bytes for e in experiment["events"] if isinstance(e, ArtifactSaved)}
    for name, row in experiment["rows"].items():
        path = deployable_artifact(experiment["workdir"], name)
        assert str(path) == row["artifact"]
        assert row["size_bytes"] == path.stat().st_size
        if str(path) in saved:
            assert saved[str(path)] == path.stat().st_size
    for key in (
        "quantization_report.json",
        "comparison.md",
        "figures/accuracy_vs_size.png",
        "figures/variant_bars.png",
        "figures/sensitivity.png",
    ):
        path = experiment["workdir"] / key
        assert path.is_file() and saved[str(path)] == path.stat().st_size


def test_every_onnx_variant_says_where_its_bytes_go(experiment):
    rows = experiment["rows"]
    for row in rows.values():
        if row["artifact_format"] != "onnx":
            assert "size_anatomy" not in row
            continue
        anatomy = row["size_anatomy"]
        parts = anatomy["weights_bytes"] + anatomy["side_bytes"] + anatomy["graph_bytes"]
        assert parts == anatomy["file_bytes"] == row["size_bytes"]
        assert min(anatomy.values()) > 0
    fp32, int8 = rows["ort-fp32"]["size_anatomy"], rows["ort-int8-static"]["size_anatomy"]
    # int8 weights take a quarter of the float ones, give or take the tensors' names and shapes
    assert 0.24 < int8["weights_bytes"] / fp32["weights_bytes"] < 0.27
    section = (experiment["workdir"] / "comparison.md").read_text().split("## Where the bytes go")[1]
    assert f"| ort-int8-static | {int8['weights_bytes']:,} | {int8['side_bytes']:,} |" in section


def test_int8_quantizes_every_weight_layer_and_export_matches_torch(experiment):
    rows = experiment["rows"]
    static = rows["ort-int8-static"]
    assert static["float_layers"] == []
    assert static["compression_ratio"] > 3.5
    assert "neck.lstm" in static["quantized_layers"]
    parity = rows["ort-fp32"]["parity"]
    assert parity["max_abs_diff"] < 1e-3 and parity["identical_cer"]
    assert rows["ort-int4-weight"]["float_layers"]  # convs and the LSTM are named, not hidden


def test_torchao_and_pruned_variants_report_how_they_were_made(experiment):
    rows = experiment["rows"]
    qat = rows["qat"]
    assert "fake_quant_cer" in qat and "deploy_gap_pp" in qat and "torchao_cer" in qat
    epochs = [e for e in experiment["events"] if isinstance(e, EpochEnded)]
    assert {e.phase for e in epochs} >= {"qat:qat", "finetune:pruned"}
    pruned = rows["pruned-int8"]
    assert pruned["params"] < 0.8 * experiment["fp32"]["params"]
    assert pruned["pruning"]["masks_made_permanent"] >= 1
    assert pruned["pruning"]["finetune_lr_multiplier"] == 0.3  # gentler than the baseline's peak lr
    assert rows["mixed"]["sensitivity"]["layers"]
    report = json.loads((experiment["workdir"] / "quantization_report.json").read_text())
    assert list(report["variants"])[:2] == ["fp32", "ort-fp32"]
    table = (experiment["workdir"] / "comparison.md").read_text().splitlines()
    first_row = table[next(i for i, line in enumerate(table) if line.startswith("|---")) + 1]
    assert first_row.startswith("| fp32 |")


def test_mixed_int8_scores_every_layer_on_validation_lines_and_keeps_its_choice_float(experiment):
    row = experiment["rows"]["ort-int8-mixed"]
    scan = row["node_sensitivity"]
    layers = {layer.name for layer in weight_layers(experiment["model"])}
    assert {n["node"] for n in scan["nodes"]} == layers  # every weight layer scored
    assert scan["lines"].startswith("sensitivity (validation") and scan["sensitivity_lines"] == 32
    costs = [(n["cer_pp"], n["output_error"]) for n in scan["nodes"]]
    assert costs == sorted(costs, reverse=True)  # costliest first
    kept = {n["node"] for n in scan["nodes"] if n["kept_float"]}
    assert kept == set(scan["float_nodes"]) and kept <= set(row["float_layers"])
    assert all(n["reason"].startswith("float" if n["kept_float"] else "int8") for n in scan["nodes"])
    assert scan["steps"][0]["tried"] is None and len(scan["steps"]) == 1 + sum(
        1 for n in scan["nodes"] if n["reason"].startswith(("float", "int8: keeping"))
    )
    static = experiment["rows"]["ort-int8-static"]
    assert row["size_bytes"] >= static["size_bytes"] and row["compression_ratio"] > 2.5


@pytest.mark.parametrize("name", ["fp32", "ort-int8-static", "fp16", "ptq"])
def test_load_recognizer_rebuilds_each_variant_from_the_folder(experiment, name):
    prepared = experiment["prepared"]
    recognizer = load_recognizer(experiment["workdir"], name)
    test = predict(recognizer, prepared.data.test_batches(), prepared.charset, torch.device("cpu"))
    expected = experiment["fp32"] if name == "fp32" else experiment["rows"][name]
    assert test.metrics().cer == pytest.approx(expected["cer"], abs=1e-9)


def test_remeasuring_reads_only_the_folder(experiment):
    rows = remeasure_experiment(
        experiment["workdir"],
        experiment["prepared"],
        lambda event: None,
        torch.device("cpu"),
        measure_memory=False,
    )
    rows = {name: row.to_dict() for name, row in rows.items()}
    for name in ("ort-int8-static", "pruned-int8"):
        assert rows[name]["cer"] == pytest.approx(experiment["rows"][name]["cer"])
        assert rows[name]["size_bytes"] == experiment["rows"][name]["size_bytes"]


def test_an_impossible_plan_fails_before_any_work(tmp_path):
    prepared = prepare_experiment(
        _config(variants="ort-fp32,ptq:int4_weight_only", quantization_granularity="per_tensor")
    )
    events: list = []
    model = create_model("crnn_tiny", num_classes=prepared.charset.num_classes)
    with pytest.raises(ValueError, match="per_tensor"):
        produce_variants(
            model, prepared, VariantRow(cer=0.1, em=0.0), None, events.append, tmp_path, torch.device("cpu")
        )
    assert events == [] and not any(tmp_path.iterdir())


def test_the_accuracy_guard_names_the_setting_to_change():
    row = VariantRow(cer=0.30, em=0.0, size_bytes=10, latency_ms_p50=1.0)
    fp32 = VariantRow(cer=0.05, em=0.0, size_bytes=40, latency_ms_p50=2.0)
    compare(row, fp32, None, budget_pp=0.5)
    assert row.accuracy_guard == "exceeded" and row.compression_ratio == 4.0
    message = guard_message("ort-int8-static", "ort-int8-static", row, 0.5)
    assert "accuracy_budget_pp" in message and "calibration_batches" in message
    assert "qat_epochs" in guard_message("qat:int4_weight_only", "qat", row, 0.5)
