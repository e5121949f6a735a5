"""Variants as typed specs: the entry grammar, per-variant settings over the experiment's, and one
experiment holding two variants of one kind side by side."""

from __future__ import annotations

import json

import pytest
import torch

from pipeline.config import ConfigError, resolve_config
from pipeline.config.variant_specs import artifact_stem, parse_variant
from pipeline.core.events import VariantEvaluated
from pipeline.runner import prepare_experiment, run_experiment
from pipeline.variants.catalog import build_order, resolve_specs
from pipeline.variants.manifest import read_manifest
from pipeline.variants.specs import PrunedInt8Spec, PtqSpec, QatSpec


def _config(variants: str, **overrides):
    return resolve_config("smoke", overrides={"variants": variants, **overrides})


@pytest.mark.parametrize(
    "text",
    ["ort-fp32", "ort-int8-static", "ptq", "qat:int4_weight_only", "pruned-int8", "mixed", "fp16"],
)
def test_stored_spellings_read_back_unchanged(text):
    entry = parse_variant(text)
    assert entry.text() == text and entry.name == text


def test_settings_in_parentheses_name_the_variant_and_round_trip():
    entry = parse_variant("ptq( group-size=32 , quantization_granularity=per_group )")
    assert entry.kind == "ptq" and entry.overrides == {
        "group_size": 32,
        "quantization_granularity": "per_group",
    }
    assert entry.name == "ptq(group_size=32,quantization_granularity=per_group)"
    assert parse_variant(entry.text()) == entry
    named = parse_variant("pruned-int8(pruning_ratio=0.3,name=p30)")
    assert named.name == "p30" and parse_variant(named.text()) == named
    assert parse_variant("qat(progressive_stages=head+neck)").overrides == {
        "progressive_stages": ["head", "neck"]
    }


def test_json_objects_become_the_same_entries(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"variants": ["ort-fp32", {"kind": "ptq", "group_size": 64, "name": "g64"}]}))
    config = resolve_config("smoke", config_file=path)
    assert config.deploy.variants == ["ort-fp32", "ptq(group_size=64,name=g64)"]


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ("ptq(qat_epochs=3)", "ptq does not take qat_epochs; allowed settings: quantization_strategy"),
        ("ort-fp32(group_size=32)", "ort-fp32 does not take group_size; allowed settings: none"),
        ("ptq(group_size=48)", "group_size=48"),
        ("ptq(group_size=32,group_size=64)", "sets group_size twice"),
        ("ptq(group_size=32", "'(' without its ')'"),
        ("ptq,ptq", "lists variant 'ptq' twice"),
        ("ptq(name=a b)", "has name 'a b'"),
        ("ptq(group_size=32,name=x:y),ptq(group_size=64,name=x-y)", "would share the file name 'x-y'"),
        ("bogus", "'bogus' is not a known variant"),
        ("ptq:int3", "unknown strategy suffix"),
        ("ptq(weight_bits=8,quantization_strategy=int4_weight_only)", "contradict quantization_strategy"),
    ],
)
def test_bad_entries_are_refused_in_one_line(variants, message):
    with pytest.raises(ConfigError, match=None) as caught:
        resolve_specs(_config(variants))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_variant_setting_overrides_only_that_variant():
    config = _config(
        "ort-fp32,ptq(group_size=64,quantization_granularity=per_group),ptq,qat:int4_weight_only,"
        "pruned-int8(pruning_ratio=0.2,calibration_batches=3)",
        group_size="32",
        pruning_ratio="0.5",
    )
    specs = {spec.name: spec for spec in resolve_specs(config)}
    own = specs["ptq(group_size=64,quantization_granularity=per_group)"]
    assert isinstance(own, PtqSpec) and own.group_size == 64 and own.quantization_granularity == "per_group"
    assert specs["ptq"].group_size == 32 and specs["ptq"].quantization_granularity == "per_channel"
    qat = specs["qat:int4_weight_only"]
    assert isinstance(qat, QatSpec) and (qat.weight_bits, qat.activation_bits) == (4, 32)
    pruned = specs["pruned-int8(calibration_batches=3,pruning_ratio=0.2)"]
    assert isinstance(pruned, PrunedInt8Spec) and (pruned.pruning_ratio, pruned.calibration_batches) == (
        0.2,
        3,
    )
    assert config.pruning.pruning_ratio == 0.5  # the experiment's own setting is untouched


def test_qat_is_built_after_the_ptq_variant_it_reads():
    config = _config("qat,ort-fp32,ptq(group_size=64),ptq")
    order = build_order(resolve_specs(config))
    names = [planned.spec.name for planned in order]
    assert names[0] == "ort-fp32" and names.index("ptq") < names.index("qat")
    assert next(p for p in order if p.spec.name == "qat").needed == {"ptq": "ptq"}


def test_two_variants_of_one_kind_side_by_side(tmp_path):
    """One experiment compares ptq at group 32 and group 64: two rows, two files, two plans."""
    torch.set_num_threads(1)
    variants = (
        "ort-fp32,ptq(quantization_granularity=per_group,group_size=32),"
        "ptq(quantization_granularity=per_group,group_size=64,name=ptq-g64)"
    )
    config = _config(variants, num_train="32", num_val="8", num_test="16", epochs="1")
    events: list = []
    outcome = run_experiment(prepare_experiment(config), events.append, tmp_path)
    assert outcome.status == "finished", outcome.error
    rows = {e.name: e.metrics for e in events if isinstance(e, VariantEvaluated)}
    first, second = "ptq(group_size=32,quantization_granularity=per_group)", "ptq-g64"
    assert {first, second} <= rows.keys()
    assert rows[first]["spec"]["group_size"] == 32 and rows[second]["spec"]["group_size"] == 64
    labels = [set(rows[n]["plan"].values()) for n in (first, second)]
    assert labels[0] != labels[1], labels
    manifest = read_manifest(tmp_path)
    files = {manifest[n]["artifact"] for n in (first, second)}
    assert files == {f"variants/{artifact_stem(first)}.onnx", "variants/ptq-g64.onnx"}
    assert all((tmp_path / f).is_file() for f in files)
    report = json.loads((tmp_path / "quantization_report.json").read_text())
    assert {first, second} <= report["variants"].keys()
    assert f"| {first} |" in (tmp_path / "comparison.md").read_text()
