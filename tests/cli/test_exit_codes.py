"""Exit codes as the shell sees them, through the installed `ocrq`: 0 ok, 1 runtime error, 2 bad input,
130 interrupted. `main()` used to drop the code of `typer.Exit`, so every failure here exited 0."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time

import psutil
import pytest
from PIL import Image

from store import Store
from tests.cli.conftest import Shell, error_line
from tests.cli.fakes import fake_experiment, png_claiming


def test_success_is_0(shell):
    assert shell("ls").returncode == 0
    assert shell("templates").returncode == 0


def test_a_run_on_a_device_that_does_not_exist_exits_1(shell):
    result = shell("run", "smoke", "--device", "cuda:99", "-q", timeout=300)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "cuda:99" in error_line(result)
    assert Store().list_experiments()[0]["status"] == "failed"


@pytest.mark.parametrize("content", [b"", b"garbage"], ids=["empty", "corrupt"])
def test_resume_from_a_damaged_checkpoint_exits_1_and_names_it(shell, content):
    store = Store()
    exp_id, folder = fake_experiment(store, status="interrupted")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "last.pt").write_bytes(content)
    result = shell("run", "--resume", exp_id, "-q")
    assert result.returncode == 1, (result.stdout, result.stderr)
    line = error_line(result)
    assert "last.pt" in line and "OCRQ_DEBUG" not in line, line


@pytest.mark.parametrize("mode", ["compress", "evaluate"])
def test_from_a_damaged_trained_model_exits_1_and_names_it(shell, mode):
    exp_id, folder = fake_experiment(Store())
    (folder / "model_fp32.pt").write_bytes(b"PK\x03\x04 cut short")
    result = shell("run", "--from", exp_id, "--mode", mode, "-q")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "model_fp32.pt" in error_line(result)


def test_answering_no_to_a_permanent_delete_exits_1_and_deletes_nothing(shell):
    exp_id, folder = fake_experiment(Store())
    result = shell("rm", "--permanent", exp_id, stdin="n\n")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "nothing deleted" in result.stderr
    assert folder.is_dir() and not Store().get(exp_id).get("deleted")


def test_main_returns_the_code_of_typer_exit(ocrq_home, capsys):
    """In-process too: callers of `main()` (tests, launchers) get the same code as the shell."""
    from cli.main import main

    exp_id, _ = fake_experiment(Store())
    stdin, sys.stdin = sys.stdin, io.StringIO("n\n")
    try:
        assert main(["rm", "--permanent", exp_id]) == 1
    finally:
        sys.stdin = stdin


# -- slow: a real smoke run, signals ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real finished smoke experiment, made once for the slow tests of this module."""
    home = tmp_path_factory.mktemp("home")
    shell = Shell(home, home.parent)
    result = shell("run", "smoke", "--name", "trained", "-q", timeout=600)
    assert result.returncode == 0, result.stderr
    return home, result.stdout.strip()


def _wait_for(shell: Shell, proc: subprocess.Popen, ready, what: str, timeout: float = 300) -> None:
    """Until `ready(store, newest experiment's row)` holds, while `proc` keeps running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        rows = Store(shell.home).list_experiments() if (shell.home / "index.json").exists() else []
        if rows and ready(Store(shell.home), rows[0]):
            return
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"the run never got to {what}")


def _wait_until_running(shell: Shell, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until the store shows the run `running` and one epoch is recorded (the run's handlers are up)."""
    _wait_for(
        shell, proc, lambda store, row: row["status"] == "running" and store.get(row["id"]).get("epochs"),
        "running with an epoch recorded", timeout,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_run_interrupted_by_a_signal_exits_130(shell, sig):
    proc = shell.popen("run", "smoke", "--epochs", "500", "--name", "long", "-q")
    _wait_until_running(shell, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "--resume" in err
    assert Store(shell.home).list_experiments()[0]["status"] == "interrupted"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ctrl_c_during_a_pruned_models_finetune_stops_the_run_with_130(shell):
    """fit keeps Ctrl-C to itself and returns; a finetune that went on to measure a half-trained model used to
    swallow the interrupt, and the run carried on."""
    proc = shell.popen(
        "run", "smoke", "--variants", "pruned-int8", "--finetune-epochs", "500", "--name", "cut", "-q"
    )

    def finetuning(store: Store, row: dict) -> bool:  # the baseline is trained and the cut model finetunes
        epochs = store.get(row["id"]).get("epochs") or []
        return any((epoch.get("phase") or "").startswith("finetune") for epoch in epochs)

    _wait_for(shell, proc, finetuning, "a finetune epoch")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert Store(shell.home).list_experiments()[0]["status"] == "interrupted"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ctrl_c_while_lines_are_rendered_ahead_exits_130_and_leaves_no_render_process(shell):
    proc = shell.popen("run", "smoke", "--render-ahead", "true", "--threads", "2", "--num-train", "20000",
                       "--name", "ahead", "-q")  # fmt: skip
    deadline, workers = time.monotonic() + 300, []
    while time.monotonic() < deadline and len(workers) < 2:  # the first epoch's lines are being drawn
        assert proc.poll() is None, proc.communicate()
        workers = psutil.Process(proc.pid).children(recursive=True)
        time.sleep(0.1)
    assert len(workers) >= 2, "the render processes never started"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    assert Store(shell.home).list_experiments()[0]["status"] == "interrupted"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ctrl_c_during_an_import_exits_130_and_records_it_interrupted(shell, tmp_path):
    from tests.import_models import tiny_recognizer

    model = tiny_recognizer(tmp_path / "tiny.onnx")
    proc = shell.popen("import", str(model), "--data", "synthetic", "--lines", "3000", "--calibration-lines", "8",
                       "--sensitivity-lines", "8", "--hard-lines", "0", "-q")  # fmt: skip
    # the lines are drawn, the experiment recorded and measuring
    _wait_for(shell, proc, lambda store, row: row["status"] == "running", "measuring")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert Store(shell.home).list_experiments()[0]["status"] == "interrupted"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ctrl_c_during_evaluate_exits_130(trained, tmp_path):
    home, exp_id = trained
    shell = Shell(home, tmp_path)
    proc = shell.popen("evaluate", exp_id, "-n", "200000")
    time.sleep(8)  # past the imports and the model load, well before 200,000 lines are read
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err


@pytest.mark.slow
def test_evaluate_skips_a_decompression_bomb_with_skip_bad_samples(trained, tmp_path):
    home, exp_id = trained
    Image.new("L", (128, 32), 255).save(tmp_path / "good.png")
    (tmp_path / "bomb.png").write_bytes(png_claiming(30_000, 30_000))
    (tmp_path / "labels.txt").write_text("bomb.png\thello\ngood.png\tok\n")
    shell = Shell(home, tmp_path)
    refused = shell("evaluate", exp_id, "--data", "labels.txt")
    assert refused.returncode == 2 and "line 1" in error_line(refused)
    result = shell("evaluate", exp_id, "--data", "labels.txt", "--skip-bad-samples", "--json")
    assert result.returncode == 0, result.stderr
    assert '"samples": 1' in result.stdout


@pytest.mark.slow
def test_a_broken_onnx_variant_under_from_evaluate_exits_1(trained, tmp_path):
    home, exp_id = trained
    onnx = home / "experiments" / exp_id / "variants" / "ort-fp32.onnx"
    saved = onnx.read_bytes()
    onnx.write_bytes(b"not onnx")
    try:
        result = Shell(home, tmp_path)("run", "--from", exp_id, "--mode", "evaluate", "-q", timeout=600)
    finally:
        onnx.write_bytes(saved)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "ort-fp32.onnx" in error_line(result)
