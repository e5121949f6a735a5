"""The TUI's Textual-free parts: filters, Pareto fronts, log tailing, charts, previews, the form model,
the launch command and stopping processes."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from PIL import Image

from pipeline.config import FLAT_FIELDS, ConfigError
from tui.model.data import new_log_lines, parse_filter
from tui.model.fields import OWN_FIELDS, effective_values, form_fields, value_text
from tui.model.launch import LaunchRequest, build_run_command, graceful_signal, parse_tags, stop_process
from tui.model.plot import Series, line_chart
from tui.model.preview import half_block_preview


def test_filter_words_become_store_filters():
    assert parse_filter("status:running tag:qat  crnn") == {
        "status": "running", "tag": "qat", "template": None, "text": "crnn",
    }  # fmt: skip
    assert parse_filter("failed template:smoke")["status"] == "failed"
    with pytest.raises(ValueError, match="status 'done' is not a status; allowed created, running"):
        parse_filter("status:done")
    with pytest.raises(ValueError, match="needs a value"):
        parse_filter("tag:")


def test_log_tail_appends_only_new_lines_and_rebuilds_after_a_gap():
    assert new_log_lines(["a", "b"], ["a", "b", "c"]) == (["c"], False)
    assert new_log_lines(["a", "b", "c"], ["b", "c", "d", "e"]) == (["d", "e"], False)
    assert new_log_lines(["a", "b"], ["x", "y"]) == (["x", "y"], True)


def test_line_chart_fits_its_box_and_skips_missing_values():
    chart = line_chart([Series("loss", "cyan", [(1, 2.0), (2, float("nan")), (3, 1.0)])], 40, 8, title="loss")
    lines = chart.plain.split("\n")
    assert len(lines) == 8 and all(len(line) <= 40 for line in lines)
    assert lines[0].startswith("loss") and lines[-1].endswith("3 epoch")
    assert any(ch != " " and 0x2800 <= ord(ch) <= 0x28FF for ch in "".join(lines[1:-1]))
    assert "no epochs yet" in line_chart([Series("loss", "cyan", [])], 40, 6).plain


def test_half_block_preview_keeps_the_aspect_ratio(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (200, 50), (255, 0, 0)).save(path)
    preview = half_block_preview(path, 40, 20)
    lines = preview.plain.split("\n")
    assert len(lines[0]) == 40 and len(lines) == 5  # 200x50 px -> 40 cells x 10 half-cells
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(OSError, match="not an image"):
        half_block_preview(tmp_path / "notes.png", 10, 10)


def test_the_form_offers_every_config_field_with_cli_spelling():
    keys = {field.key for field in form_fields()}
    assert keys == set(FLAT_FIELDS) - set(OWN_FIELDS)
    assert all(field.help for field in form_fields())
    values = effective_values("smoke", {"epochs": "3", "variants": "ort-fp32,ptq"})
    assert values["epochs"] == 3 and value_text(values["variants"]) == "ort-fp32,ptq"
    with pytest.raises(ConfigError, match=r"^learning_rate=5 is out of range; allowed 1e-07\.\.1$"):
        effective_values("smoke", {"learning_rate": "5"})


def test_run_command_pre_allocates_the_id_and_keeps_negative_numbers_as_values(tmp_path):
    request = LaunchRequest(
        "smoke", {"seed": "7", "weight_decay": "-1"}, name="n 1", tags=parse_tags("a, b c")
    )
    argv = build_run_command(tmp_path, request, "0123456789ab", python="py")
    assert argv == [
        "py", "-m", "cli.main", "--home", str(tmp_path), "run", "smoke", "--seed=7", "--weight-decay=-1",
        "--name=n 1", "--tag=a", "--tag=b", "--tag=c", "--id", "0123456789ab", "--json",
    ]  # fmt: skip


def _sleeper(ignore_interrupts: bool) -> subprocess.Popen:
    ignore = "for s in (signal.SIGINT, signal.SIGTERM):\n    signal.signal(s, signal.SIG_IGN)"
    # Handle SIGINT explicitly: a child of a shell's background job starts with SIGINT ignored.
    handle = "signal.signal(signal.SIGINT, signal.default_int_handler)"
    code = (
        "import signal\n" + (ignore if ignore_interrupts else handle)
    ) + "\nimport sys, time\nprint('ready', flush=True)\ntime.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def test_stop_process_interrupts_then_kills():
    polite = _sleeper(ignore_interrupts=False)
    assert graceful_signal(polite.pid) == signal.SIGINT
    assert stop_process(polite.pid, grace_s=5) == "interrupted"
    assert polite.wait(5) != 0
    stubborn = _sleeper(ignore_interrupts=True)
    assert graceful_signal(stubborn.pid) == signal.SIGTERM  # SIGINT would never arrive
    assert stop_process(stubborn.pid, grace_s=0.3) == "killed"
    assert stubborn.wait(5) == -signal.SIGKILL
    assert stop_process(stubborn.pid, grace_s=0.3) == "gone"


def test_every_status_the_store_reports_has_a_style_and_an_icon():
    from store import STATUSES
    from tui.model.format import STATUS_ICONS, STATUS_STYLES, status_text

    assert set(STATUSES) <= STATUS_STYLES.keys() and set(STATUSES) <= STATUS_ICONS.keys()
    assert all(not status_text(status).plain.startswith("?") for status in STATUSES)
