"""The TUI's rules of the house: its domain modules do not import Textual, and nothing in tui/ imports torch
or the computing pipeline (a TUI must not train in its own process)."""

from __future__ import annotations

import subprocess
import sys

PURE_MODULES = (
    "tui.model.data",
    "tui.model.launch",
    "tui.model.fields",
    "tui.model.format",
    "tui.model.plot",
    "tui.model.preview",
    "tui.model.studies",
)


def _loaded_after_import(modules: tuple[str, ...]) -> set[str]:
    code = (
        "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('\\n'.join(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_domain_modules_do_not_import_textual():
    loaded = _loaded_after_import(PURE_MODULES)
    assert "textual" not in loaded


def test_the_whole_tui_imports_neither_torch_nor_pipeline_runtime():
    loaded = _loaded_after_import(("tui.app", "cli.tui_command"))
    assert "textual" in loaded  # the check below is about a real import of the app
    heavy = {
        "torch",
        "onnxruntime",
        "optuna",
        "numpy",
        "pipeline.runner",
        "pipeline.training.fit",
        "pipeline.models",
    }
    assert not heavy & loaded, heavy & loaded


def test_reading_a_studys_trials_loads_optuna_but_no_torch():
    """The Studies screen reads trials from Optuna's storage in its polling thread: optuna, never torch."""
    loaded = _loaded_after_import(("tui.model.studies", "pipeline.study.storage"))
    assert "optuna" in loaded
    assert not {"torch", "onnxruntime", "pipeline.study.search", "pipeline.runner"} & loaded
