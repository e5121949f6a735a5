"""The RDB path: `ocrq study run --storage postgresql://...` and a second `ocrq study worker` joining it,
against a real PostgreSQL server this test starts on loopback (skipped, with the reason, where the server
binaries or the psycopg driver are missing)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from store import Store
from tests.cli.test_study_cli import TINY, _space, ocrq

OCRQ = Path(sys.executable).with_name("ocrq")


def _why_not() -> str | None:
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            return f"no {tool} on PATH (install the postgresql Debian package)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "no psycopg driver (pip install 'psycopg[binary]')"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    reason = _why_not()
    if reason:
        print(f"skipping the PostgreSQL test: {reason}")
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="ocrq-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    subprocess.run([*as_user, "initdb", "-D", str(data), "-U", "ocrq", "--auth=trust"], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run(
        [*as_user, "pg_ctl", "-D", str(data), "-w", "-l", str(folder / "log"),
         "-o", f"-h 127.0.0.1 -p {port} -k {folder}", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        subprocess.run(
            [sys.executable, "-c", f"import psycopg; c = psycopg.connect('postgresql://ocrq@127.0.0.1:{port}/postgres', "
             "autocommit=True); c.execute('CREATE DATABASE studies')"], check=True,
        )  # fmt: skip
        yield f"postgresql+psycopg://ocrq@127.0.0.1:{port}/studies"
    finally:
        subprocess.run([*as_user, "pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_rdb_study_with_a_joining_worker(postgres_url, tmp_path):
    home = tmp_path / "home"
    base = ocrq(home, "run", "smoke", "--mode", "train", *TINY, "--json")
    assert base.returncode == 0, base.stderr
    base_id = json.loads(base.stdout)["id"]
    space = _space(tmp_path, {"strategy": ["ort-int8-dynamic", "ort-int8-static"]})
    first = ocrq(home, "study", "run", "--from", base_id, "--study-name", "pg", "--n-trials", "2",
                 "--storage", postgres_url, "--param-config", space, "--method", "random_search", "--json")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["storage"] == postgres_url
    # another worker (another box in real life) joins by name and storage URL; raising n_trials lets it work
    import optuna

    from pipeline.study.search import SETTINGS_ATTR, load_study

    study, settings = load_study("pg", postgres_url)
    settings.n_trials = 3
    settings.baseline_dir = "/first-box/home/experiments/" + base_id  # not a path the other box reaches
    study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
    start = time.monotonic()
    # another box: its own home, the baseline's model_fp32.pt copied over (checked against the sha256)
    other = tmp_path / "other-box"
    model = tmp_path / "copied" / "model_fp32.pt"
    model.parent.mkdir()
    shutil.copyfile(Store(home).experiment_dir(base_id) / "model_fp32.pt", model)
    refused = ocrq(other, "study", "worker", "pg", "--storage", postgres_url)
    assert refused.returncode == 2 and "give --baseline FILE" in refused.stderr
    joined = ocrq(other, "study", "worker", "pg", "--storage", postgres_url, "--baseline", str(model))
    assert joined.returncode == 0, joined.stderr
    assert "worker ran 1 trial(s)" in joined.stderr
    trials = optuna.load_study(study_name="pg", storage=postgres_url).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert time.monotonic() - start < 300
