"""A home copied to another path (synced from a GPU box): `ocrq show`, `ocrq export`, `ocrq doctor`
and the TUI find every file, for records written relative (now) and absolute (before)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store import Store
from store.artifact_paths import resolve_artifact_path
from tests.cli.fakes import EXP_ID, moved_home


def test_old_absolute_paths_are_read_against_this_homes_experiment_folder(tmp_path):
    folder = tmp_path / "home" / "experiments" / "abcdefabcdef"
    old = "/mnt/gpu-box/ocrq/experiments/abcdefabcdef/variants/qat/model.onnx"
    assert resolve_artifact_path(old, folder) == folder / "variants/qat/model.onnx"
    assert resolve_artifact_path("comparison.md", folder) == folder / "comparison.md"  # relative: new records
    assert resolve_artifact_path("/data/elsewhere.txt", folder) == Path("/data/elsewhere.txt")
    escape = "/mnt/gpu-box/ocrq/experiments/abcdefabcdef/../../../etc/passwd"
    assert resolve_artifact_path(escape, folder) == Path(escape)  # never re-based out of the folder


def test_new_records_are_stored_relative_to_the_experiment_folder(tmp_path):
    home = moved_home(tmp_path, old_absolute=False)
    raw = json.loads((home / "experiments" / EXP_ID / "experiment.json").read_text())
    stored = sorted(doc["path"] for doc in raw["artifacts"].values())
    assert stored == ["accuracy_vs_size.png", "variants/ort-fp32.onnx"]


def test_recording_a_file_again_replaces_its_old_absolute_record(tmp_path):
    home = moved_home(tmp_path, old_absolute=True)
    store = Store(home)
    figure = store.experiment_dir(EXP_ID) / "accuracy_vs_size.png"
    store.record_artifact(EXP_ID, kind="figure", path=str(figure), bytes=figure.stat().st_size)
    paths = [artifact["path"] for artifact in store.get(EXP_ID)["artifacts"]]
    assert paths.count(str(figure)) == 1 and len(paths) == 2


@pytest.mark.parametrize("old_absolute", [False, True], ids=["relative", "old-absolute"])
def test_show_export_and_doctor_find_the_files_of_a_moved_home(tmp_path, old_absolute, shell):
    home = moved_home(tmp_path, old_absolute=old_absolute)
    shell.home = home
    folder = home / "experiments" / EXP_ID
    shown = shell("show", EXP_ID, "--json")
    assert shown.returncode == 0, shown.stderr
    paths = {artifact["path"] for artifact in json.loads(shown.stdout)["artifacts"]}
    assert paths == {str(folder / "accuracy_vs_size.png"), str(folder / "variants" / "ort-fp32.onnx")}
    assert all(Path(path).is_file() for path in paths)
    human = shell("show", EXP_ID)
    assert human.returncode == 0 and str(folder / "accuracy_vs_size.png") in human.stdout.replace("\n", "")
    exported = shell("export", EXP_ID, "-v", "ort-fp32", "-o", str(tmp_path / "out.onnx"))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out.onnx").read_bytes() == b"ONNX BYTES"
    assert Store(home).resolve_artifact(EXP_ID, "/elsewhere/x.txt") == Path("/elsewhere/x.txt")


@pytest.mark.parametrize("old_absolute", [False, True], ids=["relative", "old-absolute"])
def test_doctor_checks_the_moved_files_not_the_old_paths(tmp_path, old_absolute, shell):
    home = moved_home(tmp_path, old_absolute=old_absolute)
    shell.home = home
    (home / "experiments" / EXP_ID / "variants" / "ort-fp32.onnx").write_bytes(b"ONNX")  # truncated
    doctor = shell("doctor", "--json")
    problems = [
        problem for problem in json.loads(doctor.stdout)["problems"] if problem["kind"] == "artifact-mismatch"
    ]
    assert [problem["subject"] for problem in problems] == [f"experiments/{EXP_ID}/variants/ort-fp32.onnx"]
