"""The rooms' import rules (ARCHITECTURE.md), checked in fresh interpreters rather than trusted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

UI = ("textual", "typer", "rich")
HEAVY = ("torch", "timm", "torchao", "onnxruntime", "optuna", "onnx")


def imported_after(code: str, env_home: str | None = None) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    env = None
    if env_home:
        import os

        env = {**os.environ, "OCRQ_HOME": env_home}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_pipeline_and_store_import_no_ui_library():
    modules = imported_after(
        "import pipeline, pipeline.config, pipeline.runner, pipeline.variants.produce, store, store.recorder"
    )
    assert "torch" in modules  # the probe really imported the computing core
    assert not modules & set(UI), f"UI libraries imported by pipeline/store: {modules & set(UI)}"


def test_store_imports_neither_torch_nor_pipeline():
    modules = imported_after("import store, store.recorder")
    assert not modules & {"torch", "pipeline", *UI}


def test_config_reading_imports_no_heavy_library():
    modules = imported_after("from pipeline.config import resolve_config; resolve_config('quickstart')")
    assert not modules & set(HEAVY), modules & set(HEAVY)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["ls"],
        ["ls", "--json"],
        ["templates"],
        ["config", "show", "smoke"],
        ["show", "--help"],
        ["compare", "--help"],
    ],
)
def test_commands_that_do_not_compute_import_no_heavy_library(argv, tmp_path):
    code = f"import cli.main\ntry:\n    cli.main.main({argv!r})\nexcept SystemExit:\n    pass"
    modules = imported_after(code, env_home=str(tmp_path / "home"))
    assert not modules & set(HEAVY), f"ocrq {' '.join(argv)} imported {modules & set(HEAVY)}"
    assert not (tmp_path / "home").exists(), "a read-only command created the store"


def test_tui_imports_no_heavy_library():
    modules = imported_after("import tui.app")
    assert not modules & set(HEAVY), modules & set(HEAVY)
