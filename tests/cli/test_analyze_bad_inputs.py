"""`ocrq analyze` refuses bad input with one line naming the problem and what is allowed, exit 2, nothing
written (run through the installed `ocrq`, as a shell would)."""

from __future__ import annotations

import pytest

from store import Store
from tests.cli.conftest import error_line, snapshot
from tests.cli.fakes import fake_experiment


@pytest.fixture
def experiment(ocrq_home):
    exp_id, _ = fake_experiment(Store())
    return exp_id


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "errors,speed"], "allowed errors, changes, alignment, robustness, confidence, training"),
        (["--only", ","], "allowed errors"),
        (["--variant", "int3"], "allowed fp32, ort-fp32"),
        (["--data", "/no/such/labels.txt"], "does not exist; allowed 'test', 'synthetic'"),
        (["--weight", "speed=1"], "NAME one of cer, em, size, latency, gap, ece"),
        (["--weight", "cer=-1"], "number >= 0"),
        (["--weight", "cer=nan"], "number >= 0"),
        (["--line", "-1"], "allowed line indices >= 0"),
        (["--line", "64"], "out of range; allowed 0..63"),
        (["--count", "0"], "0"),
        (["--robustness-lines", "0"], "0"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(shell, ocrq_home, experiment, args, message):
    before = snapshot(ocrq_home)
    result = shell("analyze", experiment, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in error_line(result)
    assert snapshot(ocrq_home) == before
    assert not (ocrq_home / "experiments" / experiment / "analysis").exists()


def test_the_same_experiment_twice_is_refused(shell, ocrq_home, experiment):
    before = snapshot(ocrq_home)
    result = shell("analyze", experiment, experiment[:6])
    assert result.returncode == 2
    assert "twice" in error_line(result)
    assert snapshot(ocrq_home) == before


def test_unknown_experiment_is_refused(shell, ocrq_home):
    result = shell("analyze", "nosuchexperiment")
    assert result.returncode != 0
    error_line(result)
