"""Hostile and malformed input through the installed `ocrq`, as a shell runs it.

Bad input: exit 2, one `ocrq: error:` line, nothing written. A damaged store or experiment folder:
exit 1 with a message that says what to do. Stored text never reaches the terminal as escape sequences.
"""

from __future__ import annotations

import json

import pytest

from store import Store
from tests.cli.conftest import error_line, snapshot
from tests.cli.fakes import fake_experiment, png_claiming, write_manifest

ESC, BEL, CSI_C1 = "\x1b", "\x07", "\x9b"


def assert_bad_input(result, home, before, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    line = error_line(result)
    assert "OCRQ_DEBUG" not in line, line  # a known error gets a real message, not a type name
    for fragment in fragments:
        assert fragment in line, line
    assert snapshot(home) == before


# -- config files and flags --------------------------------------------------------------------


def test_a_config_nested_100000_deep_is_bad_input(shell, ocrq_home, tmp_path):
    Store()  # an empty store, to prove nothing is written
    deep = tmp_path / "deep.json"
    deep.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    before = snapshot(ocrq_home)
    result = shell("run", "smoke", "--config", str(deep))
    assert_bad_input(result, ocrq_home, before, "nested too deeply")


@pytest.mark.parametrize(
    "text",
    [
        '{"epochs": 1, "epochs": 2}',
        '{"train": {"epochs": 1}, "epochs": 2}',
        '{"qat_epochs": 1, "qat-epochs": 2}',
    ],
    ids=["same key", "section and flat", "two spellings"],
)
def test_a_config_that_sets_a_field_twice_is_refused(shell, ocrq_home, tmp_path, text):
    config = tmp_path / "dup.json"
    config.write_text(text)
    before = snapshot(ocrq_home)
    result = shell("config", "show", "smoke", "--config", str(config))
    assert_bad_input(result, ocrq_home, before, "twice")


def test_a_config_that_is_a_directory_says_so(shell, ocrq_home, tmp_path):
    (tmp_path / "conf").mkdir()
    result = shell("config", "show", "smoke", "--config", str(tmp_path / "conf"))
    assert_bad_input(result, ocrq_home, snapshot(ocrq_home), "is a directory")
    assert "does not exist" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "show", "smoke", "--epochs", "1", "--epochs", "2"],
        ["config", "show", "smoke", "--epochs=1", "--epochs", "2"],
        ["config", "show", "smoke", "--qat_epochs", "1", "--qat-epochs", "2"],
        ["config", "show", "smoke", "--ema", "--no-ema"],
        ["ls", "--sort", "name", "--sort", "created"],
        ["--home", "a", "--home", "b", "ls"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_an_option_given_twice_is_refused(shell, ocrq_home, argv):
    result = shell(*argv)
    assert_bad_input(result, ocrq_home, snapshot(ocrq_home), "given 2 times", "give it once")


def test_repeatable_options_may_repeat_and_evaluate_keeps_its_own_flags():
    from cli.args import prepare_args
    from cli.main import app

    assert prepare_args(app, ["run", "smoke", "--tag", "a", "--tag", "b"]) == [
        "run",
        "smoke",
        "--tag",
        "a",
        "--tag",
        "b",
    ]
    # `--skip-bad-samples` is also a config field; evaluate's own flag must not get a "true" appended.
    assert prepare_args(app, ["evaluate", "x", "--skip-bad-samples"]) == [
        "evaluate",
        "x",
        "--skip-bad-samples",
    ]
    assert prepare_args(app, ["run", "smoke", "--skip_bad_samples"]) == [
        "run",
        "smoke",
        "--skip-bad-samples",
        "true",
    ]


def test_evaluate_accepts_skip_bad_samples(shell, ocrq_home):
    result = shell("evaluate", "nothere", "--skip-bad-samples")
    assert result.returncode == 2
    assert "unexpected extra argument" not in result.stderr.lower()
    assert "no experiment matches 'nothere'" in error_line(result)


def test_one_font_name_is_a_list_of_one(shell):
    result = shell("config", "show", "smoke", "--fonts", "DejaVuSans.ttf")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["synthetic"]["fonts"] == ["DejaVuSans.ttf"]


# -- images ------------------------------------------------------------------------------------


def test_a_png_claiming_30000x30000_is_a_bad_line_with_its_number(shell, ocrq_home, tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_claiming(30_000, 30_000))
    (tmp_path / "labels.txt").write_text("bomb.png\thello\n")
    Store()
    before = snapshot(ocrq_home)
    result = shell("run", "smoke", "--train_data", str(tmp_path / "labels.txt"))
    assert_bad_input(result, ocrq_home, before, "line 1", "bomb.png", "too large")
    assert "DecompressionBomb" not in result.stderr


def test_skip_bad_samples_skips_a_decompression_bomb(tmp_path):
    from PIL import Image

    from pipeline.core.charset import Charset
    from pipeline.data.labelled import load_label_file

    Image.new("L", (64, 32), 255).save(tmp_path / "good.png")
    (tmp_path / "bomb.png").write_bytes(png_claiming(30_000, 30_000))
    (tmp_path / "labels.txt").write_text("bomb.png\thello\ngood.png\tok\n")
    samples, problems = load_label_file(tmp_path / "labels.txt", Charset.from_spec("ascii"), skip_bad=True)
    assert [s.label for s in samples] == ["ok"]
    assert [(p.line_number, p.kind) for p in problems] == [(1, "unreadable_image")]


# -- the home and the store --------------------------------------------------------------------


def test_home_that_is_a_file_is_bad_input(shell, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = shell("--home", str(tmp_path / "afile"), "ls")
    assert result.returncode == 2
    assert "is a file, not a folder" in error_line(result)


def test_ocrq_home_variable_naming_a_file_is_bad_input(shell, tmp_path):
    (tmp_path / "afile").write_text("x")
    shell.home = tmp_path / "afile"
    result = shell("ls")
    assert result.returncode == 2
    assert "OCRQ_HOME" in error_line(result)


@pytest.mark.parametrize(
    "argv",
    [["ls"], ["show", "base"], ["tag", "base", "x"], ["rm", "base"], ["run", "smoke", "--epochs", "1", "-q"]],
    ids=lambda argv: argv[0],
)
def test_a_truncated_index_is_a_runtime_error_that_points_to_doctor(shell, ocrq_home, argv):
    fake_experiment(Store())
    # index.json, and the index shards of stores that have them: every one cut short, as by a full disk
    for index in [ocrq_home / "index.json", *ocrq_home.glob("index/*.json")]:
        index.write_bytes(index.read_bytes()[:50])
    result = shell(*argv)
    assert result.returncode == 1, (result.stdout, result.stderr)
    line = error_line(result)
    assert "ocrq doctor" in line and "OCRQ_DEBUG" not in line, line


# -- export and the deploy manifest -----------------------------------------------------------


def test_export_refuses_to_overwrite_the_store_index(shell, ocrq_home):
    exp_id, _ = fake_experiment(Store())
    before = snapshot(ocrq_home)
    result = shell("export", exp_id, "-o", str(ocrq_home / "index.json"), "--force")
    assert_bad_input(result, ocrq_home, before, "inside the ocrq home")


def test_export_refuses_any_path_in_the_home_even_through_a_link(shell, ocrq_home, tmp_path):
    exp_id, folder = fake_experiment(Store())
    (tmp_path / "link").symlink_to(folder)
    before = snapshot(ocrq_home)
    for target in (folder / "experiment.json", tmp_path / "link" / "experiment.json", ocrq_home):
        result = shell("export", exp_id, "-o", str(target), "--force")
        assert_bad_input(result, ocrq_home, before, "inside the ocrq home")


def test_export_outside_the_home_still_works(shell, ocrq_home, tmp_path):
    exp_id, _ = fake_experiment(Store())
    result = shell("export", exp_id, "-o", str(tmp_path / "out" / "model.onnx"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "model.onnx").read_bytes() == b"ONNX BYTES"


@pytest.mark.parametrize(
    "artifact",
    ["/etc/passwd", "../../index.json", "variants/../../../index.json", "link.onnx"],
    ids=["absolute", "dotdot", "dotdot inside", "symlink out"],
)
def test_manifest_paths_outside_the_experiment_folder_are_refused(shell, ocrq_home, tmp_path, artifact):
    exp_id, folder = fake_experiment(Store())
    (tmp_path / "secret").write_text("secret")
    (folder / "link.onnx").symlink_to(tmp_path / "secret")
    write_manifest(folder, {"fp32": "model_fp32.pt", "ort-fp32": artifact})
    result = shell("export", exp_id, "-o", str(tmp_path / "out.onnx"))
    assert result.returncode == 1, (result.stdout, result.stderr)
    line = error_line(result)
    assert "experiment folder" in line and "OCRQ_DEBUG" not in line, line
    assert not (tmp_path / "out.onnx").exists()


# -- names, tags and notes ---------------------------------------------------------------------

HOSTILE = [
    "evil\x1b]0;pwned\x07",  # OSC: retitles the terminal
    "red\x1b[31mred",  # CSI colour
    "clip\x1b]52;c;aGVsbG8=\x07",  # OSC 52: writes the clipboard
    "two\nlines",
    "c1\x9b2J",  # a C1 CSI
]


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_control_characters_in_a_new_name_are_refused_before_anything_is_written(shell, ocrq_home, name):
    Store()
    before = snapshot(ocrq_home)
    result = shell("run", "smoke", "--name", name, "-q")
    assert_bad_input(result, ocrq_home, before, "control characters")
    assert ESC not in result.stderr and BEL not in result.stderr


@pytest.mark.parametrize("argv", [["tag", "base", "t\x1b[2Jx"], ["note", "base", "n\x1b]52;c;aGk=\x07"]])
def test_control_characters_in_tags_and_notes_are_refused(shell, ocrq_home, argv):
    fake_experiment(Store())
    before = snapshot(ocrq_home)
    result = shell(*argv)
    assert_bad_input(result, ocrq_home, before)
    assert ESC not in result.stderr


def test_stored_escape_sequences_never_reach_the_terminal(shell, ocrq_home):
    """Names, tags and notes written by an older ocrq, another tool or the TUI are shown escaped."""
    store = Store()
    exp_id, _ = fake_experiment(store, name="evil\x1b]0;pwned\x07\x1b[31m[bold]x[/]\ny")
    second, _ = fake_experiment(store, name="plain", exp_id="abcd00000002")
    store.tag(exp_id, add=["t\x1b[2Jx"])
    store.set_note(exp_id, "n\x1b]52;c;aGk=\x07\u202ertl")
    for argv in (["ls"], ["show", exp_id], ["compare", exp_id, second], ["tag", exp_id]):
        result = shell(*argv)
        assert result.returncode == 0, (argv, result.stderr)
        for bad in (ESC, BEL, CSI_C1, "\u202e"):
            assert bad not in result.stdout + result.stderr, (argv, result.stdout)
    listing = shell("ls").stdout.splitlines()
    assert len(listing) == 3, listing  # header + two rows: the newline in a name does not split its row
    assert "\\x1b" in listing[1] or "\\x1b" in listing[2]
    shown = shell("show", exp_id).stdout
    assert "[bold]x[/]" in shown  # rich markup in a name is shown as text, not applied
    assert "\\x1b]52" in shown


def test_removing_an_old_bad_tag_is_allowed(shell):
    store = Store()
    exp_id, _ = fake_experiment(store)
    store.tag(exp_id, add=["bad\x1bx", "ok"])
    result = shell("tag", exp_id, "--remove", "bad\x1bx")
    assert result.returncode == 0, result.stderr
    assert store.get(exp_id)["tags"] == ["ok"]


def test_an_old_manifest_with_an_absolute_path_inside_the_folder_still_exports(shell, tmp_path):
    exp_id, folder = fake_experiment(Store())
    write_manifest(folder, {"fp32": "model_fp32.pt", "ort-fp32": str(folder / "variants" / "ort-fp32.onnx")})
    result = shell("export", exp_id, "-o", str(tmp_path / "out.onnx"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.onnx").read_bytes() == b"ONNX BYTES"
