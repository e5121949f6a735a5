"""Fault injection through the installed `ocrq`: damaged store files, a full disk, folders and artifacts
changed behind the store's back, SIGKILL at several points of a run, concurrent runs and readers.

Each test asserts what a user sees (exit code, one error line, status) and what is left on disk (no temp
file, no orphan folder, no wrong status). The slow ones train tiny smoke runs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from store import Store
from tests.cli.conftest import Shell, error_line
from tests.cli.fakes import fake_experiment

TINY = ("--num-train", "32", "--num-val", "8", "--num-test", "8")
WORKER = str(Path(__file__).parent / "store" / "store_worker.py")


@pytest.fixture
def shell(ocrq_home, tmp_path) -> Shell:
    return Shell(ocrq_home, tmp_path)


def _folders(home: Path) -> list[str]:
    experiments = home / "experiments"
    return sorted(p.name for p in experiments.iterdir()) if experiments.is_dir() else []


def _leftovers(root: Path) -> list[str]:
    """Temp and partial files anywhere under `root` (what a write cut short leaves)."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.name.endswith((".tmp", ".part")) and p.is_file()
    )


def _listed(shell: Shell) -> list[dict]:
    result = shell("ls", "--json", "-n", "0")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# -- damaged store files ----------------------------------------------------------------------------


def _cut(path: Path, size: int) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(size)


@pytest.mark.parametrize("size", [0, 20], ids=["emptied", "cut-short"])
def test_a_damaged_index_json_refuses_commands_and_a_run_creates_nothing(shell, ocrq_home, size):
    """An emptied index.json used to read as a new store: `ls` showed nothing and the next run replaced
    every index shard with an empty one (each experiment an orphan)."""
    exp_id, _ = fake_experiment(Store())
    _cut(ocrq_home / "index.json", size)
    listed = shell("ls")
    assert listed.returncode == 1 and "ocrq doctor" in error_line(listed)
    run = shell("run", "smoke", *TINY, "--epochs", "1", "-q", timeout=300)
    assert run.returncode == 1 and "ocrq doctor" in error_line(run), (run.stdout, run.stderr)
    assert _folders(ocrq_home) == [exp_id]
    assert shell("doctor", "--repair").returncode == 0
    assert [row["id"] for row in _listed(shell)] == [exp_id]


def test_a_cut_index_shard_is_reported_and_rebuilt_from_the_folders(shell, ocrq_home):
    exp_id, _ = fake_experiment(Store())
    shard = next((ocrq_home / "index").glob("*.json"))
    _cut(shard, shard.stat().st_size // 2)
    assert shell("ls").returncode == 1
    assert shell("doctor").returncode == 1
    assert shell("doctor", "--repair").returncode == 0
    assert [(row["id"], row["status"]) for row in _listed(shell)] == [(exp_id, "finished")]


def test_a_cut_experiment_file_is_a_one_line_error(shell, ocrq_home):
    exp_id, folder = fake_experiment(Store())
    _cut(folder / "experiment.json", 30)
    result = shell("show", exp_id)
    assert result.returncode == 1
    assert "experiment.json" in error_line(result)


# -- a full disk ------------------------------------------------------------------------------------


def _enospc(path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_a_checkpoint_cut_short_by_a_full_disk_leaves_no_temp(tmp_path, monkeypatch):
    import torch

    from pipeline.core.checkpoint import save_checkpoint

    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, {"epoch": 1})
    saved = path.read_bytes()

    def full_disk_save(payload, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04" + b"\0" * 4096)  # what got written before the disk filled
        try:
            raise _enospc(None)
        except OSError:  # what torch's zip writer makes of a failed write
            raise RuntimeError(
                "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"
            ) from None

    monkeypatch.setattr(torch, "save", full_disk_save)
    with pytest.raises(OSError) as raised:
        save_checkpoint(path, {"epoch": 2})
    assert raised.value.errno == errno.ENOSPC and raised.value.filename.endswith("last.pt.tmp")
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    assert path.read_bytes() == saved


def test_creating_an_experiment_on_a_full_disk_leaves_no_folder(tmp_path, monkeypatch):
    from store import records

    store = Store(tmp_path)
    fake_experiment(store)

    def full_disk(folder, info):
        raise _enospc(folder / "experiment.json")

    monkeypatch.setattr(records, "create_file", full_disk)
    with pytest.raises(OSError):
        store.create_experiment(name="x", template="smoke", config={}, model="m")
    assert _folders(tmp_path) == ["abcd00000001"]


def test_an_export_cut_short_by_a_full_disk_leaves_no_part(ocrq_home, tmp_path, monkeypatch, capsys):
    from cli.main import main

    exp_id, _ = fake_experiment(Store())

    def full_disk_copy(source, target, *args, **kwargs):
        Path(target).write_bytes(b"ON")
        raise _enospc(target)

    monkeypatch.setattr(shutil, "copyfile", full_disk_copy)
    assert main(["export", exp_id, "-o", str(tmp_path / "out.onnx")]) == 1
    assert "no space left" in capsys.readouterr().err
    assert list(tmp_path.glob("out.onnx*")) == []


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs (a checkpoint of the smoke model is 5 MB); skipped where mounting is not allowed."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount failed'}); the ENOSPC wrappers cover it"
        print(reason)
        pytest.skip(reason)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path) -> None:
    with open(mount / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    assert shutil.disk_usage(mount).free < 4096


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_run_on_a_full_disk_fails_recorded_and_leaves_nothing_behind(small_disk, tmp_path):
    shell = Shell(small_disk / "home", tmp_path)
    result = shell("run", "smoke", *TINY, "--epochs", "1", "-q", timeout=300)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "no space left on device" in error_line(result).lower()
    [row] = _listed(shell)
    assert row["status"] == "failed" and "No space left on device" in (row["error"] or ""), row
    assert "last.pt" in row["error"], row
    assert _leftovers(small_disk) == []

    _fill(small_disk)  # a second run cannot even write its experiment file
    before = _folders(shell.home)
    again = shell("run", "smoke", *TINY, "--epochs", "1", "-q", timeout=300)
    assert again.returncode == 1 and "no space left" in error_line(again)
    assert _folders(shell.home) == before
    assert _leftovers(small_disk) == []


def test_an_export_onto_a_full_disk_exits_1_and_leaves_no_part(shell, small_disk):
    exp_id, _ = fake_experiment(Store())
    _fill(small_disk)
    result = shell("export", exp_id, "-o", str(small_disk / "out.onnx"))
    assert result.returncode == 1 and "no space left" in error_line(result)
    assert _leftovers(small_disk) == [] and not (small_disk / "out.onnx").exists()


# -- resume -----------------------------------------------------------------------------------------


def test_resume_right_after_the_run_was_killed_is_not_refused_as_running(shell, ocrq_home):
    """The run's process is gone although its heartbeat is fresh: --resume used to wait a minute."""
    store = Store()
    exp_id, folder = fake_experiment(store, status="interrupted")
    subprocess.run([sys.executable, WORKER, "running", str(ocrq_home), exp_id], check=True, timeout=60)
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "last.pt").write_bytes(b"garbage")  # stops the resume before any training
    result = shell("run", "--resume", exp_id, "-q")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "last.pt" in error_line(result) and "still running" not in result.stderr
    assert _listed(shell)[0]["status"] == "crashed"


def test_resume_without_its_checkpoint_after_recorded_epochs_is_refused(shell):
    store = Store()
    exp_id, _ = fake_experiment(store, status="interrupted")
    for epoch in (1, 2):
        store.record_epoch(exp_id, {"phase": "baseline", "epoch": epoch, "cer": 0.5})
    result = shell("run", "--resume", exp_id, "-q")
    assert result.returncode == 1, (result.stdout, result.stderr)
    line = error_line(result)
    assert "last.pt" in line and "missing" in line and "2 epoch(s)" in line
    assert [e["epoch"] for e in store.get(exp_id)["epochs"]] == [1, 2]


def test_a_redone_epoch_replaces_the_recorded_one(tmp_path):
    store = Store(tmp_path)
    exp_id, _ = fake_experiment(store)
    for epoch in (1, 2, 3):
        store.record_epoch(exp_id, {"phase": "baseline", "epoch": epoch})
    store.record_epoch(exp_id, {"phase": "qat", "epoch": 1})
    for epoch in (2, 3, 4):  # resumed from the checkpoint of epoch 1
        store.record_epoch(exp_id, {"phase": "baseline", "epoch": epoch, "redone": True})
    epochs = [(e["phase"], e["epoch"]) for e in store.get(exp_id)["epochs"]]
    assert epochs == [("baseline", 1), ("qat", 1), ("baseline", 2), ("baseline", 3), ("baseline", 4)]


# -- a failed re-measure keeps the experiment's status -----------------------------------------------


def test_a_failed_from_evaluate_keeps_the_experiment_finished(shell):
    store = Store()
    exp_id, folder = fake_experiment(store)
    result = shell("run", "--from", exp_id, "--mode", "evaluate", "-q", timeout=300)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "keeps its status" in error_line(result)
    row = _listed(shell)[0]
    assert row["status"] == "finished" and row["error"] is None, row


# -- a folder deleted behind the store's back -------------------------------------------------------


def test_a_deleted_folder_lists_as_missing_and_commands_say_so(shell):
    exp_id, folder = fake_experiment(Store())
    shutil.rmtree(folder)
    assert [row["status"] for row in _listed(shell)] == ["missing"]
    assert "missing" in shell("ls").stdout
    shown = shell("show", exp_id, "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "missing"
    for args in (
        ("evaluate", exp_id),
        ("export", exp_id),
        ("run", "--resume", exp_id),
        ("run", "--from", exp_id, "--mode", "compress"),
    ):
        result = shell(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "is gone" in error_line(result), args
    assert not folder.exists()  # nothing re-created it


# -- checksums --------------------------------------------------------------------------------------


@pytest.fixture
def checksummed(ocrq_home):
    """A fake experiment whose manifest and artifact records carry sizes and sha256s."""
    from pipeline.variants.manifest import MANIFEST, record_variant

    store = Store()
    exp_id, folder = fake_experiment(store)
    (folder / MANIFEST).unlink()
    onnx = folder / "variants" / "ort-fp32.onnx"
    onnx.write_bytes(os.urandom(4096))
    record_variant(folder, "fp32", folder / "model_fp32.pt", "torch-fp32", "torch")
    record_variant(folder, "ort-fp32", onnx, "onnx", "onnxruntime")
    for kind, path in (("model", folder / "model_fp32.pt"), ("onnx", onnx)):
        store.record_artifact(exp_id, kind=kind, path=str(path), bytes=path.stat().st_size)
    return exp_id, folder, onnx


def _truncate(path: Path) -> None:
    _cut(path, path.stat().st_size // 2)


def _alter(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


def test_an_intact_artifact_exports(shell, checksummed, tmp_path):
    exp_id, _, onnx = checksummed
    result = shell("export", exp_id, "-o", str(tmp_path / "out.onnx"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.onnx").read_bytes() == onnx.read_bytes()
    assert shell("doctor").returncode == 0


@pytest.mark.parametrize(
    ("damage", "words"), [(_truncate, "bytes"), (_alter, "sha256")], ids=["cut", "altered"]
)
def test_a_damaged_onnx_is_refused_by_export_evaluate_and_from(shell, checksummed, tmp_path, damage, words):
    exp_id, _, onnx = checksummed
    damage(onnx)
    exported = shell("export", exp_id, "-o", str(tmp_path / "out.onnx"))
    assert exported.returncode == 1 and words in error_line(exported) and "ort-fp32" in error_line(exported)
    assert list(tmp_path.glob("out.onnx*")) == []
    evaluated = shell("evaluate", exp_id, "-v", "ort-fp32", "-n", "4", timeout=300)
    assert evaluated.returncode == 1 and words in error_line(evaluated), evaluated.stderr
    remeasured = shell("run", "--from", exp_id, "--mode", "evaluate", "-q", timeout=300)
    assert remeasured.returncode == 1 and words in error_line(remeasured), remeasured.stderr
    assert _listed(shell)[0]["status"] == "finished"
    doctor = shell("doctor", "--json")
    assert doctor.returncode == 1
    problems = json.loads(doctor.stdout)["problems"]
    assert [(p["kind"], p["subject"]) for p in problems] == [
        ("artifact-mismatch", f"experiments/{exp_id}/variants/ort-fp32.onnx")
    ]


def test_an_altered_trained_model_is_refused_by_from(shell, checksummed):
    exp_id, folder, _ = checksummed
    with zipfile.ZipFile(folder / "model_fp32.pt", "a") as archive:  # still a zip: only the checksum sees it
        archive.writestr("archive/extra", b"x")
    result = shell("run", "--from", exp_id, "--mode", "compress", "-q", timeout=300)
    assert result.returncode == 1 and "'fp32'" in error_line(result)
    assert _folders(shell.home) == [exp_id]


# -- SIGKILL at several points, then doctor and --resume ---------------------------------------------

# One thread, fixed: `--threads 0` picks a count from the load at start, and float sums in another
# order differ in the last bit (a loaded machine gave the killed and the reference runs different counts).
RUN_ARGS = ("smoke", *TINY, "--epochs", "3", "--threads", "1")


def _result_of(home: Path, exp_id: str) -> dict:
    """What must not depend on interruptions: test CER/EM, each epoch's figures, each variant's CER."""
    experiment = Store(home).get(exp_id)
    return {
        "status": experiment["status"],
        "best_cer": experiment["best_cer"],
        "best_em": experiment["best_em"],
        "epochs": [
            (e.get("phase"), e["epoch"], e["train_loss"], e["val_loss"], e["cer"])
            for e in experiment["epochs"]
        ],
        "variants": {v["name"]: v.get("cer") for v in experiment["variants"]},
    }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    home = tmp_path_factory.mktemp("reference")
    result = Shell(home, home)("run", *RUN_ARGS, "-q", timeout=600)
    assert result.returncode == 0, result.stderr
    return _result_of(home, result.stdout.strip())


def _stage(home: Path) -> tuple[str | None, str | None, int]:
    """(experiment id, heartbeat stage, recorded epochs) of the only experiment in `home`."""
    folders = _folders(home)
    if not folders or not (home / "index.json").exists():
        return None, None, 0
    folder = home / "experiments" / folders[0]
    try:
        beat = json.loads((folder / "heartbeat.json").read_text())
        epochs = len(Store(home).get(folders[0])["epochs"])
    except (OSError, ValueError, KeyError):
        return folders[0], None, 0
    return folders[0], beat.get("stage"), epochs


KILL_POINTS = {
    "train": lambda folder, stage, epochs: stage == "train" and epochs >= 2,
    "evaluate": lambda folder, stage, epochs: stage == "evaluate",
    "variant": lambda folder, stage, epochs: (stage or "").startswith("variant:"),
    # the variants are measured and reported; the run's own report and status are still to come
    "finish": lambda folder, stage, epochs: (folder / "quantization_report.json").exists(),
}


def _kill_at(shell: Shell, point: str) -> str:
    """Start a run and SIGKILL it once the store shows `point`; its experiment id."""
    if point == "create":
        # The window between creating the experiment and starting its run is too short to hit from
        # outside: a process creates it exactly as `ocrq run` does, then is killed.
        code = (
            "import os, signal, sys\n"
            "from pipeline.config import resolve_config\n"
            "from store import Store\n"
            "config = resolve_config('smoke', overrides={'num_train': '32', 'num_val': '8', 'num_test': '8',"
            " 'epochs': '3', 'threads': '1'})\n"
            "summary = Store().create_experiment(name='killed', template='smoke', config=config.to_dict(),"
            " model=config.model.model, command=['ocrq', 'run'])\n"
            "print(summary['id'], flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=shell.env(), capture_output=True, text=True, timeout=120,
            cwd=Path(__file__).parents[1],
        )  # fmt: skip
        assert done.returncode == -signal.SIGKILL, done.stderr
        return done.stdout.strip()
    proc = shell.popen("run", *RUN_ARGS, "-q")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        exp_id, stage, epochs = _stage(shell.home)
        if exp_id and KILL_POINTS[point](shell.home / "experiments" / exp_id, stage, epochs):
            proc.kill()
            proc.wait()
            return exp_id
        assert proc.poll() is None, f"the run ended before reaching {point}: {proc.communicate()}"
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"the run never reached {point}")


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("point", ["create", "train", "evaluate", "variant", "finish"])
def test_a_run_killed_then_repaired_and_resumed_ends_as_an_uninterrupted_one(shell, uninterrupted, point):
    exp_id = _kill_at(shell, point)
    killed = _listed(shell)[0]
    assert killed["status"] == ("created" if point == "create" else "crashed"), killed  # at once, no wait
    repaired = shell("doctor", "--repair", "--yes")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert shell("doctor").returncode == 0
    resumed = shell("run", "--resume", exp_id, "-q", timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert _result_of(shell.home, exp_id) == uninterrupted
    assert _leftovers(shell.home) == []
    assert shell("doctor").returncode == 0


# -- concurrent runs and readers -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_concurrent_runs_and_readers_see_no_torn_reads(shell):
    runs = [shell.popen("run", "smoke", *TINY, "--epochs", "2", "--name", f"run{n}", "-q") for n in range(2)]
    reads, errors = 0, []
    stop = threading.Event()

    def read() -> None:
        nonlocal reads
        store = Store(shell.home)
        while not stop.is_set():
            try:
                for row in store.list_experiments():
                    full = store.get(row["id"])
                    assert isinstance(full["epochs"], list) and isinstance(full["variants"], list)
                reads += 1
            except Exception as error:  # noqa: BLE001 - every failure is a torn or refused read
                errors.append(repr(error))
            time.sleep(0.01)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        outcomes = [proc.communicate(timeout=600) for proc in runs]
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert [proc.returncode for proc in runs] == [0, 0], outcomes
    assert errors == [] and reads > 20, (errors[:3], reads)
    rows = _listed(shell)
    assert sorted(row["status"] for row in rows) == ["finished", "finished"]
    for row in rows:
        assert [e["epoch"] for e in Store(shell.home).get(row["id"])["epochs"]] == [1, 2]


def test_a_report_write_killed_midway_leaves_a_temp_doctor_removes_at_once(tmp_path):
    """A run SIGKILLed while writing a report leaves its temp; doctor sees the dead writer without waiting."""
    from store.doctor import run_doctor

    store = Store(tmp_path)
    exp_id = store.create_experiment(name="t", template="smoke", config={}, model="crnn")["id"]
    store.set_status(exp_id, "failed")
    target = store.experiment_dir(exp_id) / "comparison.md"
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from pipeline.core import atomic\n"
        "atomic.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"atomic.write_text_atomic(Path({str(target)!r}), '| half |')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[1],
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    left = _leftovers(tmp_path)
    assert len(left) == 1 and not target.exists()
    report = run_doctor(tmp_path, fix=True, delete=True)
    assert [p.kind for p in report.problems] == ["stale-temp"]
    assert "is gone" in report.problems[0].detail, report.problems[0]
    assert _leftovers(tmp_path) == []
