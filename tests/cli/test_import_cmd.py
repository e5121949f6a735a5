"""`ocrq import` through the installed command: one-line refusals (exit 2, nothing written) and a tiny
hand-built recognizer imported end to end, then listed, shown and compared like any experiment."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import error_line
from tests.import_models import tiny_recognizer


def _nothing_written(home) -> bool:
    experiments = home / "experiments"
    return not experiments.exists() or not any(experiments.iterdir())


@pytest.mark.parametrize(
    ("build", "args", "expected"),
    [
        (dict(height=None), [], "no fixed height; set --height"),
        (dict(extra_input=True), [], "has 2 inputs"),
        (dict(output_rank=2), [], "has rank 2"),
        (dict(chars=None), [], "no character list in its metadata; set --charset FILE"),
        (dict(), ["--blank", "30"], "--blank 30 is outside the model's 27 classes"),
        (dict(), ["--normalize", "bgr"], "--normalize 'bgr' is not known"),
        (dict(), ["--height", "20"], "--height 20 contradicts the model's input height 16"),
        (dict(), ["--id", "not-hex"], "--id 'not-hex' is not a free 12-hex-digit id"),
    ],
)
def test_refusals_are_one_line_exit_2_and_write_nothing(shell, tmp_path, build, args, expected):
    model = tiny_recognizer(tmp_path / "model.onnx", **build)
    result = shell("import", str(model), "--data", "synthetic", *args)
    assert result.returncode == 2, result.stderr
    assert expected in error_line(result)
    assert _nothing_written(shell.home)


def test_charset_of_the_wrong_size_is_refused(shell, tmp_path):
    model = tiny_recognizer(tmp_path / "model.onnx", chars=None)
    charset = tmp_path / "chars.txt"
    charset.write_text("a\nb\nc\n", encoding="utf-8")
    result = shell("import", str(model), "--data", "synthetic", "--charset", str(charset))
    assert result.returncode == 2
    assert "has 3 characters but the model scores 27 classes" in error_line(result)
    assert _nothing_written(shell.home)


def test_not_an_onnx_file_and_missing_file(shell, tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model")
    result = shell("import", str(junk), "--data", "synthetic")
    assert result.returncode == 2 and "is not an ONNX model" in error_line(result)
    result = shell("import", str(tmp_path / "missing.onnx"), "--data", "synthetic")
    assert result.returncode == 2 and "is not a file" in error_line(result)
    assert _nothing_written(shell.home)


def test_import_end_to_end_lists_shows_and_compares(shell, tmp_path):
    model = tiny_recognizer(tmp_path / "tiny.onnx")
    args = ["import", str(model), "--data", "synthetic", "--lines", "24", "--calibration-lines", "8",
            "--sensitivity-lines", "8", "--hard-lines", "8"]  # fmt: skip
    result = shell(*args, "--name", "tiny-import", "-q", timeout=600)
    assert result.returncode == 0, result.stderr
    exp_id = result.stdout.strip()
    listed = json.loads(shell("ls", "--json").stdout)
    row = next(e for e in listed if e["id"] == exp_id)
    assert (row["template"], row["model"], row["status"]) == ("import", "import:tiny.onnx", "finished")
    shown = json.loads(shell("show", exp_id, "--json").stdout)
    variants = {v["name"]: v for v in shown["variants"]}
    assert {
        "fp32",
        "ort-fp32",
        "ort-int8-static",
        "ort-int8-dynamic",
        "ort-int4-weight",
        "ort-int8-mixed",
    } <= set(variants)
    prepared = variants["ort-fp32"]["preparation"]
    assert prepared["max_abs_diff"] < prepared["tolerance"] and prepared["constants_lifted"] == 6
    for name in ("ort-int8-static", "ort-int8-mixed"):
        v = variants[name]
        assert v["samples"] == 24 and v["latency_ms_p50"] > 0 and v["throughput_lines_per_s_b16"] > 0
        assert v["size_anatomy"]["file_bytes"] == v["size_bytes"] and v["accuracy_guard"] in (
            "ok",
            "exceeded",
        )
        assert v["fidelity"]["cosine"] > 0
    for name, v in variants.items():
        assert v["hard_lines"]["samples"] == 8, name  # every variant measured on the hard lines too
        assert v["peak_memory_bytes"] > v["model_memory_bytes"] > 0, name  # probed with the model's own input
    assert variants["fp32"]["import"]["line_sets"]["sensitivity_lines"] == 8
    scan = variants["ort-int8-mixed"]["node_sensitivity"]
    assert scan["lines"] == "sensitivity" and scan["sensitivity_lines"] == 8
    assert {(n["node"], n["op"]) for n in scan["nodes"]} == {("conv", "Conv"), ("head", "MatMul")}
    assert {n["node"] for n in scan["nodes"] if n["kept_float"]} == set(scan["float_nodes"])
    assert set(variants["ort-int8-mixed"]["float_layers"]) == set(scan["float_nodes"])
    human = shell("show", exp_id).stdout
    assert "clean and hard lines" in human and "per-node CER cost on 8 sensitivity lines" in human
    assert "8 sensitivity (never measured)" in human
    exported = shell("export", exp_id, "--variant", "ort-int8-static", "-o", str(tmp_path / "out") + "/")
    assert exported.returncode == 0, exported.stderr


def _import_tiny(shell, tmp_path, *, lines: int, hard_lines: int):
    """(the model file, the id of its import) with ort-int8-static only."""
    model = tiny_recognizer(tmp_path / "tiny.onnx")
    result = shell(
        "import", str(model), "--data", "synthetic", "--lines", str(lines), "--calibration-lines", "8",
        "--sensitivity-lines", "8", "--hard-lines", str(hard_lines), "--variants", "ort-int8-static", "-q",
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return model, result.stdout.strip()


def test_imported_variants_evaluate_and_remeasure(shell, tmp_path):
    model, exp_id = _import_tiny(shell, tmp_path, lines=16, hard_lines=0)
    before = {v["name"]: v for v in json.loads(shell("show", exp_id, "--json").stdout)["variants"]}
    assert "hard_lines" in before["fp32"] and before["fp32"]["hard_lines"] is None  # --hard-lines 0

    evaluated = shell("evaluate", exp_id, "--variant", "ort-int8-static", "-n", "12", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    record = json.loads(evaluated.stdout)
    assert record["samples"] == 12 and 0 <= record["cer"] and "undisturbed" in record["data"]
    assert record["predictions"].endswith("predictions.tsv")
    shown = json.loads(shell("show", exp_id, "--json").stdout)
    assert [e["variant"] for e in shown["evaluations"]] == ["ort-int8-static"]
    missing = shell("evaluate", exp_id, "--data", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in error_line(missing)

    remeasured = shell(
        "run", "--from", exp_id, "--mode", "evaluate", "--latency-threads", "1", "--json", timeout=600
    )
    assert remeasured.returncode == 0, remeasured.stderr
    after = {v["name"]: v for v in json.loads(shell("show", exp_id, "--json").stdout)["variants"]}
    assert set(after) == set(before) == {"fp32", "ort-fp32", "ort-int8-static"}
    for name in after:  # the same lines drawn again from import.json: the same CER, measured anew
        assert after[name]["cer"] == before[name]["cer"] and after[name]["samples"] == 16
    assert after["ort-fp32"]["preparation"] == before["ort-fp32"]["preparation"]  # how it was built is kept
    assert json.loads(shell("show", exp_id, "--json").stdout)["status"] == "finished"

    # compressing the import again: new variants in a new imported experiment, from its copy of the model
    refused = shell("run", "--from", exp_id, "--mode", "compress", "--variants", "qat")
    assert refused.returncode == 2
    assert error_line(refused).startswith(
        "ocrq: error: variant qat cannot be built from an imported ONNX model"
    )
    assert len(json.loads(shell("ls", "--json").stdout)) == 1  # nothing half-made
    model.unlink()  # the user's original is not needed: the experiment holds a copy
    again = shell(
        "run", "--from", exp_id, "--mode", "compress", "--variants", "ort-int8-static(observer_type=percentile)",
        "--name", "tiny-percentile", "--json", timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    new_id = json.loads(again.stdout)["id"]
    assert new_id != exp_id
    derived = json.loads(shell("show", new_id, "--json").stdout)
    assert (derived["template"], derived["model"], derived["name"]) == (
        "import",
        "import:tiny.onnx",
        "tiny-percentile",
    )
    rows = {v["name"]: v for v in derived["variants"]}
    static = "ort-int8-static(observer_type=percentile)"
    assert set(rows) == {"fp32", "ort-fp32", static}
    assert rows["fp32"]["cer"] == before["fp32"]["cer"] and rows["fp32"]["samples"] == 16  # the same lines
    assert rows["fp32"]["import"]["derived_from"] == exp_id
    assert "Percentile" in " ".join(rows[static]["notes"])
    assert "MinMax" in " ".join(before["ort-int8-static"]["notes"])
    assert rows["fp32"]["size_bytes"] == before["fp32"]["size_bytes"]
    assert f"variants of experiment {exp_id}'s imported model" in shell("show", new_id).stdout


def test_an_import_is_analysed_on_its_own_lines_through_its_preprocessing(shell, tmp_path):
    _, exp_id = _import_tiny(shell, tmp_path, lines=12, hard_lines=6)
    rows = {v["name"]: v for v in json.loads(shell("show", exp_id, "--json").stdout)["variants"]}
    analysed = shell("analyze", exp_id, "--robustness-lines", "4", "--json", timeout=600)
    assert analysed.returncode == 0, analysed.stderr
    doc = json.loads(analysed.stdout)
    assert doc["variants"] == ["fp32", "ort-fp32", "ort-int8-static"]
    assert doc["data"]["lines"] == 12 and "the import's measured lines" in doc["data"]["description"]
    for name, report in doc["errors"].items():  # the same lines and preprocessing as the variants table
        assert report["cer"] == pytest.approx(rows[name]["cer"]), name
    assert doc["training"] == {"skipped": "an imported model: no checkpoints or training data to analyse"}
    hard = json.loads(shell("analyze", exp_id, "--data", "hard", "--only", "errors", "--json").stdout)
    assert hard["data"]["lines"] == 6
    assert hard["errors"]["fp32"]["cer"] == pytest.approx(rows["fp32"]["hard_lines"]["cer"])
    refused = shell("analyze", exp_id, "--data", "nowhere")
    assert refused.returncode == 2 and "allowed 'test', 'synthetic', 'hard'" in error_line(refused)
