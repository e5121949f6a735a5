"""`ocrq doctor` run as the installed command in a subprocess: output and exit codes as the shell sees them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import Store

OCRQ = Path(sys.executable).with_name("ocrq")
LONG_AGO = time.time() - 3600

pytestmark = pytest.mark.skipif(
    not OCRQ.exists(), reason=f"the ocrq command is not installed beside {sys.executable}"
)


def ocrq(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}
    env.pop("OCRQ_HOME", None)
    prefix = ["--home", str(home)] if home is not None else []
    return subprocess.run([str(OCRQ), *prefix, *args], capture_output=True, text=True, env=env, timeout=120)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def damaged(tmp_path):
    """A store with a missing folder, a stale temp file of a dead writer and a never-started run."""
    home = tmp_path / "home"
    store = Store(home)
    keep = store.create_experiment(name="keep", template="t", config={}, model="m")["id"]
    store.set_status(keep, "running")
    store.set_status(keep, "finished")
    gone = store.create_experiment(name="gone", template="t", config={}, model="m")["id"]
    shutil.rmtree(store.experiment_dir(gone))
    stuck = store.create_experiment(name="stuck", template="t", config={}, model="m")["id"]
    store.update_summary(stuck, pid=_dead_pid(), pid_started=None)
    temp = store.experiment_dir(keep) / f".experiment.json.{_dead_pid()}.deadbeef.tmp"
    temp.write_text('{"half":')
    return home, {"keep": keep, "gone": gone, "stuck": stuck, "temp": temp}


def test_a_healthy_store_exits_0(tmp_path):
    home = tmp_path / "home"
    store = Store(home)
    store.create_experiment(name="fine", template="t", config={}, model="m")
    result = ocrq("doctor", home=home)
    assert (result.returncode, result.stdout) == (0, "")
    assert "healthy" in result.stderr
    result = ocrq("doctor", "--json", home=home)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {
        "home": str(home),
        "healthy": True,
        "repaired": False,
        "problems": [],
    }


def test_problems_exit_1_until_repaired_and_deleting_needs_yes(damaged):
    home, made = damaged
    result = ocrq("doctor", home=home)
    assert result.returncode == 1, result.stderr
    assert "missing-folder" in result.stdout and "dead-run" in result.stdout and "stale-temp" in result.stdout
    assert "3 problem(s)" in result.stderr

    report = json.loads(ocrq("doctor", "--json", home=home).stdout)
    assert sorted((p["kind"], p["outcome"]) for p in report["problems"]) == [
        ("dead-run", "found"), ("missing-folder", "found"), ("stale-temp", "found"),
    ]  # fmt: skip

    result = ocrq("doctor", "--repair", "--json", home=home)
    assert result.returncode == 1  # what deletes something is left for --yes
    outcomes = {p["kind"]: p["outcome"] for p in json.loads(result.stdout)["problems"]}
    assert outcomes == {"dead-run": "repaired", "missing-folder": "needs --yes", "stale-temp": "needs --yes"}
    assert Store(home).get(made["stuck"])["status"] == "failed"
    assert made["temp"].exists()

    result = ocrq("doctor", "--repair", "--yes", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "healthy" in result.stderr
    assert not made["temp"].exists()
    assert [doc["id"] for doc in Store(home).list_experiments(sort="name")] == [made["stuck"], made["keep"]]
    assert ocrq("doctor", home=home).returncode == 0


def test_a_corrupt_index_exits_1_and_repair_brings_it_back(tmp_path):
    home = tmp_path / "home"
    store = Store(home)
    exp_id = store.create_experiment(name="one", template="t", config={}, model="m")["id"]
    shard = home / "index" / f"{exp_id[:2]}.json"
    shard.write_text(shard.read_text()[:25])
    assert ocrq("ls", home=home).returncode == 1
    result = ocrq("doctor", home=home)
    assert result.returncode == 1 and "corrupt-index" in result.stdout
    assert ocrq("doctor", "--repair", home=home).returncode == 0
    listed = ocrq("ls", "--json", home=home)
    assert listed.returncode == 0 and [row["id"] for row in json.loads(listed.stdout)] == [exp_id]


def test_the_shell_sees_the_exit_code(damaged):
    home, _ = damaged
    script = f'"{OCRQ}" --home "{home}" doctor >/dev/null 2>&1; echo "exit=$?"'
    shell = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert shell.stdout.strip() == "exit=1"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["doctor", "--yes"], "--yes only goes with --repair"),
        (["doctor", "--fix"], "No such option"),
    ],
)
def test_bad_input_exits_2(tmp_path, arguments, message):
    home = tmp_path / "home"
    Store(home).create_experiment(name="x", template="t", config={}, model="m")
    result = ocrq(*arguments, home=home)
    assert result.returncode == 2 and message in result.stderr


def test_a_home_that_is_not_a_store_exits_2(tmp_path):
    result = ocrq("doctor", home=tmp_path / "nowhere")
    assert result.returncode == 2 and "no ocrq store at" in result.stderr
    (tmp_path / "file").write_text("x")
    result = ocrq("doctor", home=tmp_path / "file")
    assert result.returncode == 2 and "not a folder" in result.stderr
