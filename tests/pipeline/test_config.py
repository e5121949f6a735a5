"""Config layering and validation: template <- file <- flags, one-line errors naming field, value and allowed."""

from __future__ import annotations

import json

import pytest

from pipeline.config import FLAT_FIELDS, MODEL_NAMES, TEMPLATES, ConfigError, config_from_dict, resolve_config


def test_every_template_resolves_and_quickstart_is_the_default():
    for name in TEMPLATES:
        assert resolve_config(name).template == name
    assert resolve_config().template == "quickstart"


def test_layering_order_template_then_file_then_flags(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"epochs": 5}, "qat_epochs": 7, "batch_size": 16}))
    config = resolve_config("smoke", config_file=path, overrides={"batch-size": "8"})
    assert config.train.epochs == 5  # file beats template (smoke has 2)
    assert config.quantization.qat_epochs == 7
    assert config.train.batch_size == 8  # flag beats file


def test_seed_spellings_and_aliases(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(
        json.dumps({"strategy": "int8_weight_only", "granularity": "per_tensor", "symmetric": False})
    )
    config = resolve_config(
        "smoke", config_file=path, overrides={"qat_epochs": "4", "observer-type": "histogram"}
    )
    q = config.quantization
    assert (q.quantization_strategy, q.quantization_granularity, q.symmetric_quantization) == (
        "int8_weight_only",
        "per_tensor",
        False,
    )
    assert (q.weight_bits, q.activation_bits) == (8, 32)  # implied by the strategy
    assert q.qat_epochs == 4 and q.observer_type == "histogram"


def test_bits_choose_the_strategy_and_contradictions_fail():
    assert (
        resolve_config("smoke", overrides={"weight_bits": "8"}).quantization.quantization_strategy
        == "int8_dyn_act_int8_weight"
    )
    with pytest.raises(ConfigError, match="contradict"):
        resolve_config("smoke", overrides={"weight_bits": "8", "quantization_strategy": "int4_weight_only"})


def test_hardware_target_picks_backend_and_mobile_defaults():
    assert resolve_config("smoke").deploy.backend == "onnxruntime"
    assert resolve_config("smoke", overrides={"hardware_target": "gpu"}).deploy.backend == "torchao"
    mobile = resolve_config(
        "smoke", overrides={"hardware_target": "mobile", "quantization_strategy": "int8_weight_only"}
    )
    assert mobile.quantization.quantization_strategy == "int8_weight_only"  # the user's choice wins


def test_pruning_flag_adds_a_pruned_variant_and_pruned_variant_enables_pruning():
    assert "pruned" in resolve_config("smoke", overrides={"enable_pruning": "true"}).deploy.variants
    assert resolve_config("smoke", overrides={"variants": "ort-fp32,pruned-int8"}).pruning.enable_pruning


def test_saved_config_round_trips():
    config = resolve_config("ocr_aggressive", overrides={"epochs": "3"})
    assert config_from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_flat_field_names_are_unique_and_cover_the_seed_options():
    seed_options = [
        "quantization_strategy",
        "weight_bits",
        "activation_bits",
        "qat_epochs",
        "qat_learning_rate_multiplier",
        "quantization_loss_weight",
        "temperature_distillation",
        "distillation_weight",
        "calibration_batches",
        "observer_type",
        "observer_momentum",
        "quantization_granularity",
        "symmetric_quantization",
        "group_size",
        "skip_first_last",
        "mixed_precision",
        "pruning_strategy",
        "pruning_ratio",
        "pruning_epoch",
        "finetune_epochs",
        "min_acc_drop",
        "backbone_pruning_ratio",
        "neck_pruning_ratio",
        "decoder_pruning_ratio",
        "prune_criteria",
        "hardware_target",
        "batch_size",
        "num_train",
        "num_val",
        "learning_rate",
        "epochs",
        "model",
        "charset",
        "image_height",
        "seed",
        "device",
        "threads",
    ]
    assert not [name for name in seed_options if name not in FLAT_FIELDS]


def test_model_names_match_the_registry():
    from pipeline.models import list_models

    assert sorted(MODEL_NAMES) == sorted(list_models())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": "ten"}, "epochs='ten' is not an integer; allowed 1..100000"),
        ({"weight_bits": "3"}, "weight_bits=3 is not supported; allowed 4, 8"),
        ({"group_size": "48"}, "group_size=48 is not supported; allowed 32, 64, 128, 256"),
        ({"pruning_ratio": "1.2"}, "pruning_ratio=1.2 is out of range; allowed 0..0.95"),
        ({"activation_bits": "4"}, "activation_bits=4 is not supported"),
        ({"learning_rate": "nan"}, "learning_rate='nan' is not a finite number"),
        ({"variants": "ort-fp32,foo"}, "variants: 'foo' is not a known variant"),
        ({"variants": "ptq:int2"}, "unknown strategy suffix"),
        ({"device": "tpu"}, "device='tpu' is not supported"),
        (
            {"charset": "/no/such/charset.txt"},
            "charset='/no/such/charset.txt' is neither a built-in charset nor a file",
        ),
        ({"train_data": "/no/such/labels.txt"}, "train_data='/no/such/labels.txt' does not exist"),
        ({"bogus_key": "1"}, "unknown config key 'bogus_key'"),
        ({"ema": "perhaps"}, "ema='perhaps' is not a boolean; allowed true or false"),
    ],
)
def test_bad_values_fail_with_one_line(overrides, message):
    with pytest.raises(ConfigError) as error:
        resolve_config("smoke", overrides=overrides)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_config_files(tmp_path):
    cases = {
        "broken.json": ("{ not json", "is not valid JSON: line 1"),
        "list.json": ("[1, 2]", "must hold a JSON object"),
        "wrong_section.json": (json.dumps({"train": {"qat_epochs": 2}}), "belongs in section 'quantization'"),
        "wrong_type.json": (json.dumps({"epochs": "5"}), "epochs='5' is not an integer"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("'", "'")):
            resolve_config("smoke", config_file=path)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config("smoke", config_file=tmp_path / "missing.json")
