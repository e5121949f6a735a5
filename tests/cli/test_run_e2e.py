"""`ocrq run --template smoke` end to end through the CLI into a real store, then the browsing commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One real smoke experiment shared by the tests of this module (training is the slow part)."""
    import os

    from cli.main import main

    home = tmp_path_factory.mktemp("home")
    previous = os.environ.get("OCRQ_HOME")
    os.environ["OCRQ_HOME"] = str(home)
    try:
        code = main(["run", "--template", "smoke", "--name", "e2e", "--tag", "ci", "-q"])
        yield home, code
    finally:
        if previous is None:
            os.environ.pop("OCRQ_HOME", None)
        else:
            os.environ["OCRQ_HOME"] = previous


@pytest.fixture
def home(smoke_run, ocrq_home, monkeypatch):
    # After ocrq_home (which points OCRQ_HOME at an empty folder): this module shares one real store.
    home, code = smoke_run
    assert code == 0
    monkeypatch.setenv("OCRQ_HOME", str(home))
    return home


def test_show_json_has_the_documented_fields(home, ocrq):
    code, out, _ = ocrq("show", "e2e", "--json")
    assert code == 0
    doc = json.loads(out)
    for key in (
        "id",
        "name",
        "status",
        "template",
        "created",
        "config",
        "epochs",
        "variants",
        "artifacts",
        "tags",
        "note",
    ):
        assert key in doc, key
    assert doc["status"] == "finished" and doc["template"] == "smoke" and doc["tags"] == ["ci"]
    assert len(doc["epochs"]) == 2
    for epoch in doc["epochs"]:
        for key in ("epoch", "train_loss", "val_loss", "cer", "em", "lr", "seconds"):
            assert isinstance(epoch[key], int | float), (key, epoch)
    names = [v["name"] for v in doc["variants"]]
    assert names[0] == "fp32" and "ort-fp32" in names and "ort-int8-dynamic" in names
    for variant in doc["variants"]:
        for key in ("name", "size_bytes", "cer", "em", "latency_ms_p50"):
            assert variant[key] is not None, (variant["name"], key)
    # Recorded sizes are the bytes on disk, and every artifact exists.
    for artifact in doc["artifacts"]:
        assert Path(artifact["path"]).stat().st_size == artifact["bytes"], artifact
    kinds = {a["kind"] for a in doc["artifacts"]}
    assert {"checkpoint", "model", "onnx", "figure", "predictions", "config", "report"} <= kinds
    # predictions.tsv names every test line: a synthetic line by split, fonts, seed and index
    predictions = next(a["path"] for a in doc["artifacts"] if a["kind"] == "predictions")
    rows = [line.split("\t") for line in Path(predictions).read_text().splitlines()[1:]]
    assert len(rows) == doc["config"]["data"]["num_test"]
    assert sorted(int(row[0].rsplit(":", 1)[1]) for row in rows) == list(range(len(rows)))
    assert all(row[0].startswith("synthetic:test:") for row in rows)
    dynamic = next(v for v in doc["variants"] if v["name"] == "ort-int8-dynamic")
    assert dynamic["size_bytes"] < next(v for v in doc["variants"] if v["name"] == "ort-fp32")["size_bytes"]


def test_ls_json_quiet_and_filters(home, ocrq):
    code, out, _ = ocrq("ls", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 1 and "epochs" not in rows[0] and rows[0]["status"] == "finished"
    exp_id = rows[0]["id"]
    assert ocrq("ls", "-q")[1].split() == [exp_id]
    assert ocrq("ls", "-q", "--status", "failed")[1].split() == []
    assert ocrq("ls", "-q", "--tag", "ci")[1].split() == [exp_id]
    assert ocrq("ls", "-q", "--grep", "e2e")[1].split() == [exp_id]


def test_show_human_output_lists_epochs_variants_and_figure_path(home, ocrq):
    code, out, _ = ocrq("show", "e2e")
    assert code == 0
    assert (
        "epochs" in out and "variants" in out and "training_curves.png" in out and "ort-int8-dynamic" in out
    )
    doc = json.loads(ocrq("show", "e2e", "--json")[1])
    dynamic = next(v for v in doc["variants"] if v["name"] == "ort-int8-dynamic")
    kinds = out.split("bytes by kind")[1]
    line = next(row for row in kinds.splitlines() if row.startswith("ort-int8-dynamic"))
    assert f"{dynamic['size_anatomy']['weights_bytes']:,}" in line.split()


def test_tag_note_rm_restore_cycle(home, ocrq):
    assert ocrq("tag", "e2e", "keep")[1].split() == ["ci", "keep"]
    assert ocrq("note", "e2e", "first smoke")[0] == 0
    assert json.loads(ocrq("show", "e2e", "--json")[1])["note"] == "first smoke"
    assert ocrq("rm", "e2e")[0] == 0
    assert ocrq("ls", "-q")[1].strip() == ""
    assert ocrq("ls", "-q", "--all")[1].strip() != ""
    assert ocrq("restore", "e2e")[0] == 0
    assert ocrq("ls", "-q")[1].strip() != ""
    ocrq("tag", "e2e", "--remove", "keep")


def test_evaluate_on_a_labelled_folder_made_here(home, ocrq, tmp_path):
    from PIL import Image, ImageDraw

    folder = tmp_path / "real"
    folder.mkdir()
    lines = []
    for index, text in enumerate(["hello", "42", "ocrq"]):
        image = Image.new("L", (120, 32), 255)
        ImageDraw.Draw(image).text((4, 8), text, fill=0)
        image.save(folder / f"line{index}.png")
        lines.append(f"line{index}.png\t{text}")
    (folder / "labels.txt").write_text("\n".join(lines) + "\n")
    code, out, err = ocrq("evaluate", "e2e", "--data", str(folder), "--variant", "ort-int8-dynamic", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["samples"] == 3 and 0.0 <= result["cer"]
    tsv = Path(result["predictions"]).read_text().splitlines()
    assert tsv[0] == "path\tprediction\tlabel" and len(tsv) == 4
    # each row names its image file, with that image's label (rows come in width-batch order)
    rows = {Path(row.split("\t")[0]).name: row.split("\t")[2] for row in tsv[1:]}
    assert rows == {"line0.png": "hello", "line1.png": "42", "line2.png": "ocrq"}
    assert all(Path(row.split("\t")[0]).is_file() for row in tsv[1:])
    doc = json.loads(ocrq("show", "e2e", "--json")[1])
    assert doc["evaluations"] and doc["evaluations"][-1]["variant"] == "ort-int8-dynamic"


def test_compare_two_runs_only_changed(home, ocrq):
    code, _, err = ocrq("run", "smoke", "--name", "e2e-b", "--epochs", "1", "--variants", "ort-fp32", "-q")
    assert code == 0, err
    code, out, _ = ocrq("compare", "e2e", "e2e-b", "--only-changed", "--json")
    assert code == 0
    doc = json.loads(out)
    changed = {row["field"] for row in doc["config"]}
    assert "train.epochs" in changed and "deploy.variants" in changed and "model.model" not in changed
    metrics = {row["metric"]: row["values"] for row in doc["metrics"]}
    assert metrics["epochs"] == [2, 1]


def test_compress_an_existing_baseline_and_remeasure_in_place(home, ocrq):
    code, out, err = ocrq(
        "run",
        "--from",
        "e2e",
        "--mode",
        "compress",
        "--variants",
        "ort-fp32,ort-int8-dynamic",
        "--name",
        "e2e-c",
        "--json",
    )
    assert code == 0, err
    new = json.loads(ocrq("show", json.loads(out)["id"], "--json")[1])
    source = json.loads(ocrq("show", "e2e", "--json")[1])
    assert new["epochs"] == []  # nothing trained: the baseline was reused
    assert new["config"]["model"] == source["config"]["model"]
    new_fp32 = next(v for v in new["variants"] if v["name"] == "fp32")
    old_fp32 = next(v for v in source["variants"] if v["name"] == "fp32")
    assert new_fp32["cer"] == old_fp32["cer"]  # same weights, same test set

    code, _, err = ocrq("run", "--from", "e2e", "--mode", "evaluate", "--latency-runs", "3", "-q")
    assert code == 0, err
    after = json.loads(ocrq("show", "e2e", "--json")[1])
    assert after["status"] == "finished" and len(after["epochs"]) == len(source["epochs"])
    assert {v["name"] for v in after["variants"]} == {v["name"] for v in source["variants"]}

    code, _, err = ocrq("run", "--from", "e2e", "--mode", "evaluate", "--epochs", "5")
    assert code == 2 and "cannot change epochs" in err


def test_remeasuring_keeps_ratios_against_fp32_onnx_when_it_is_not_listed(home, ocrq):
    """A run whose variants leave out `ort-fp32` (a study's trial) still measures its ratios against FP32
    ONNX; re-measuring it must too, or its speed-up would jump (torch FP32 is another baseline)."""
    code, out, err = ocrq("run", "--from", "e2e", "--mode", "compress", "--variants", "ort-int8-dynamic",
                          "--name", "e2e-trial", "--latency-runs", "3", "--json")  # fmt: skip
    assert code == 0, err
    exp_id = json.loads(out)["id"]
    before = {v["name"]: v for v in json.loads(ocrq("show", exp_id, "--json")[1])["variants"]}
    assert set(before) == {"fp32", "ort-int8-dynamic"}
    report = home / "experiments" / exp_id / "report.json"
    stale = json.loads(report.read_text())["variants"]["ort-int8-dynamic"]["latency_ms_p50"]
    code, _, err = ocrq("run", "--from", exp_id, "--mode", "evaluate", "--latency-runs", "3", "-q")
    assert code == 0, err
    after = {v["name"]: v for v in json.loads(ocrq("show", exp_id, "--json")[1])["variants"]}
    for rows in (before, after):
        assert rows["ort-int8-dynamic"]["ratio_baseline"] == "ort-fp32"
    ratio = before["ort-int8-dynamic"]["compression_ratio"]
    assert after["ort-int8-dynamic"]["compression_ratio"] == pytest.approx(ratio)
    # report.json (what a study scores and the TUI opens) carries the new figures, not the run's first ones
    refreshed = json.loads(report.read_text())
    assert (
        refreshed["variants"]["ort-int8-dynamic"]["latency_ms_p50"]
        == after["ort-int8-dynamic"]["latency_ms_p50"]
    )
    assert refreshed["variants"]["ort-int8-dynamic"]["latency_ms_p50"] != stale
    assert refreshed["remeasured"] and refreshed["history"] is not None


def test_every_variant_carries_the_resize_rule_it_was_trained_with(home, ocrq):
    """The deploy manifest and each ONNX file (read as any ONNX Runtime user would) record the rule."""
    import onnxruntime as ort

    from pipeline.config import config_from_dict
    from pipeline.models import model_info

    doc = json.loads(ocrq("show", "e2e", "--json")[1])
    config = config_from_dict(doc["config"])
    stride = model_info(config.model.model)["width_multiple"]
    folder = home / "experiments" / doc["id"]
    manifest = json.loads((folder / "deploy_manifest.json").read_text())
    expected = {"image_height": 32, "width_scale": config.synthetic.width_scale, "width_multiple": stride}
    assert {k: manifest["resize"][k] for k in expected} == expected
    onnx_files = [folder / v["artifact"] for v in manifest["variants"].values() if v["format"] == "onnx"]
    assert onnx_files
    for path in onnx_files:
        meta = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
        assert float(meta["ocrq.width_scale"]) == config.synthetic.width_scale, path.name
        assert int(meta["ocrq.image_height"]) == 32 and int(meta["ocrq.width_multiple"]) == stride


def test_export_keeps_and_states_the_resize_rule(home, ocrq, tmp_path):
    import onnx

    from pipeline.config import config_from_dict

    code, out, err = ocrq("export", "e2e", "--variant", "ort-int8-dynamic", "--output", str(tmp_path) + "/")
    assert code == 0, err
    exported = Path(out.split("\t")[0])
    scale = config_from_dict(json.loads(ocrq("show", "e2e", "--json")[1])["config"]).synthetic.width_scale
    assert f"width x{scale:g}" in err and "ONNX metadata" in err
    meta = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert float(meta["ocrq.width_scale"]) == scale


def test_evaluate_resizes_lines_by_the_recorded_rule(home, ocrq, tmp_path):
    """`ocrq evaluate --data` feeds a folder's lines through the rule recorded with the variants, says so,
    and stores it with the evaluation."""
    from PIL import Image

    folder = tmp_path / "lines"
    folder.mkdir()
    Image.new("L", (100, 32), 255).save(folder / "a.png")
    (folder / "labels.csv").write_text("filename,words\na.png,hi\n")
    code, out, err = ocrq("evaluate", "e2e", "--data", str(folder), "--json")
    assert code == 0, err
    doc = json.loads(ocrq("show", "e2e", "--json")[1])
    manifest = json.loads((home / "experiments" / doc["id"] / "deploy_manifest.json").read_text())
    assert json.loads(out)["resize"] == manifest["resize"]
    assert doc["evaluations"][-1]["resize"] == manifest["resize"]
    code, _, err = ocrq("evaluate", "e2e", "--data", str(folder))
    assert code == 0 and f"width x{manifest['resize']['width_scale']:g}" in err


def test_an_exported_model_imported_again_is_fed_lines_resized_as_in_training(home, ocrq, tmp_path):
    from pipeline.config import config_from_dict
    from pipeline.core.charset import Charset
    from pipeline.variants.imported import ImportSettings, prepare_import

    code, out, err = ocrq("export", "e2e", "--variant", "ort-fp32", "--output", str(tmp_path / "m.onnx"))
    assert code == 0, err
    charset_file = tmp_path / "chars.txt"
    charset_file.write_text("\n".join(Charset.from_spec("ascii").chars) + "\n", encoding="utf-8")
    scale = config_from_dict(json.loads(ocrq("show", "e2e", "--json")[1])["config"]).synthetic.width_scale
    prepared = prepare_import(
        ImportSettings(
            model=tmp_path / "m.onnx",
            data="synthetic",
            charset_file=charset_file,
            lines=8,
            calibration_lines=4,
        )
    )
    assert prepared.width_scale == scale
