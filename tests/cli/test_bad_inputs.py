"""Bad input: one line on stderr naming the problem and what is allowed, exit code 2, store untouched."""

from __future__ import annotations

import json

import pytest

from store import Store
from tests.cli.conftest import snapshot


@pytest.fixture
def seeded(ocrq_home, tmp_path):
    """A store with two experiments whose ids share no 4-char prefix, plus some bad files on disk."""
    store = Store()
    first = store.create_experiment(
        name="alpha", template="smoke", config={}, model="crnn_tiny", experiment_id="aaaa11112222"
    )
    store.create_experiment(
        name="beta", template="smoke", config={}, model="crnn_tiny", experiment_id="aaaa33334444"
    )
    store.create_experiment(
        name="twin", template="smoke", config={}, model="crnn_tiny", experiment_id="bbbb55556666"
    )
    store.create_experiment(
        name="twin", template="smoke", config={}, model="crnn_tiny", experiment_id="cccc77778888"
    )
    (tmp_path / "broken.json").write_text("{ nope")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "unknown.json").write_text(json.dumps({"flux_capacitor": 1}))
    (tmp_path / "labels.txt").write_text("missing.png\thello\n")
    return first["id"], tmp_path


BAD_INPUTS = [
    (["run", "nosuchtemplate"], "template 'nosuchtemplate' is not known; allowed quickstart, smoke"),
    (["run", "smoke", "--epochs", "0"], "epochs=0 is out of range; allowed 1..100000"),
    (["run", "smoke", "--epochs", "many"], "epochs='many' is not an integer"),
    (["run", "smoke", "--weight_bits", "3"], "weight_bits=3 is not supported; allowed 4, 8"),
    (["run", "smoke", "--group-size", "48"], "group_size=48 is not supported; allowed 32, 64, 128, 256"),
    (["run", "smoke", "--activation_bits", "4"], "activation_bits=4 is not supported"),
    (["run", "smoke", "--pruning_ratio", "1.2"], "pruning_ratio=1.2 is out of range; allowed 0..0.95"),
    (["run", "smoke", "--model", "resnet50"], "model=resnet50 is not supported; allowed crnn_tiny"),
    (["run", "smoke", "--variants", "ort-fp32,turbo"], "variants: 'turbo' is not a known variant"),
    (["run", "smoke", "--observer-type", "magic"], "observer_type=magic is not supported; allowed min_max"),
    (["run", "smoke", "--learning_rate", "-1"], "learning_rate=-1 is out of range"),
    (["run", "smoke", "--device", "tpu"], "device='tpu' is not supported; allowed auto, cpu, cuda, cuda:N"),
    (
        ["run", "smoke", "--symmetric_quantization", "maybe"],
        "--symmetric_quantization takes true or false (or nothing, meaning true); got 'maybe'",
    ),
    (["run", "smoke", "--render-ahead", "maybe"], "--render-ahead takes true or false"),
    (["run", "--ema", "smoke", "maybe"], "unexpected extra argument(s) (maybe)"),
    (["run", "smoke", "--no-ema", "true"], "--no-ema takes no value; got 'true'"),
    (["run", "smoke", "--epochs", "2", "stray"], "unexpected extra argument(s) (stray)"),
    (["run", "smoke", "--charset", "{tmp}/nope.txt"], "is neither a built-in charset nor a file"),
    (["run", "smoke", "--train_data", "{tmp}/nope.txt"], "does not exist"),
    (["run", "smoke", "--train_data", "{tmp}/labels.txt"], "line 1"),
    (
        ["run", "smoke", "--epochs-per-line", "300"],
        "epochs_per_line=300 is out of range; allowed 1..100",
    ),
    (
        ["run", "smoke", "--num-train", "4", "--epochs-per-line", "5"],
        "epochs_per_line=5 is more than num_train=4; allowed 1 to num_train",
    ),
    (
        ["run", "smoke", "--epochs-per-line", "2", "--train_data", "{tmp}/list.json"],
        "epochs_per_line=2 applies to synthetic training lines only; with train_data set it must be 1",
    ),
    (["run", "smoke", "--config", "{tmp}/broken.json"], "is not valid JSON: line 1"),
    (["run", "smoke", "--config", "{tmp}/list.json"], "must hold a JSON object"),
    (["run", "smoke", "--config", "{tmp}/unknown.json"], "unknown config key 'flux_capacitor'"),
    (["run", "smoke", "--config", "{tmp}/absent.json"], "does not exist"),
    (["run", "smoke", "--no-such-flag", "1"], "No such option"),
    (["run", "--resume", "zzzz"], "no experiment matches 'zzzz'"),
    (["show", "ffff"], "no experiment matches 'ffff'"),
    (["show", "aaa"], "at least 4"),
    (["show", "aaaa"], "matches 2 experiments: aaaa11112222 (alpha), aaaa33334444 (beta)"),
    (["show", "twin"], "matches 2 experiments"),
    (["compare", "aaaa1"], "compare needs two or more experiments"),
    (["compare", "aaaa1", "alpha"], "names experiment aaaa11112222 twice"),
    (["ls", "--status", "sleeping"], "--status 'sleeping' is not a status; allowed created, running"),
    (["ls", "--sort", "colour"], "--sort 'colour' is not a column"),
    (["tag", "aaaa1", "two words"], "tag 'two words' is not allowed"),
    (["rm", "nothere"], "no experiment matches 'nothere'"),
    (["config", "show", "smoke", "--epochs", "-3"], "epochs=-3 is out of range"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(ocrq, seeded, ocrq_home, argv, message):
    _, tmp = seeded
    argv = [a.replace("{tmp}", str(tmp)) for a in argv]
    before = snapshot(ocrq_home)
    code, out, err = ocrq(*argv)
    assert code == 2, (code, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("ocrq: error: ")
    assert message.lower() in lines[0].lower(), lines[0]
    assert snapshot(ocrq_home) == before
