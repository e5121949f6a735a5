"""The sections of an experiment config. Field names are unique across sections, so every field is
also a flat CLI flag (``--qat-epochs`` or ``--qat_epochs``) and a flat key in a JSON config file."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config.fields import FIELD_PARSERS, ConfigError, option, validate_section

# Kept here (not asked of the registry) so that reading a config never imports torch;
# tests/pipeline/test_config.py checks it equals pipeline.models.list_models().
MODEL_NAMES = (
    "crnn_tiny",
    "crnn_tiny_strided",
    "crnn_mini_strided",
    "crnn_small",
    "crnn_base",
    "vit_tiny",
    "vit_small",
    "vit_base",
    "svtr_tiny",
    "svtr_small",
    "svtr_base",
)

QUANTIZATION_STRATEGIES = (
    "int8_weight_only",
    "int8_dyn_act_int8_weight",
    "int8_dyn_act_int4_weight",
    "int4_weight_only",
)


@dataclass
class ModelConfig:
    model: str = option("crnn_tiny", help="recognizer architecture from the registry", choices=MODEL_NAMES)
    charset: str = option(
        "ascii", help="ascii (94 printable + space), digits, alnum, or a file with one character per line"
    )

    def __post_init__(self) -> None:
        validate_section(self)


@dataclass
class DataConfig:
    num_train: int = option(
        20000, help="training lines per epoch (fresh synthetic lines each epoch)", low=1, high=100_000_000
    )
    num_val: int = option(1000, help="validation lines (fixed set, training fonts)", low=1, high=10_000_000)
    num_test: int = option(1000, help="test lines shared by every variant", low=1, high=10_000_000)
    fresh_data_each_epoch: bool = option(
        True, help="draw new synthetic lines every epoch instead of repeating"
    )
    epochs_per_line: int = option(
        1,
        help="epochs each synthetic training line is trained on, in a row: every epoch draws 1/this of "
        "its lines anew (with render_ahead, only those are rendered)",
        low=1,
        high=100,
    )
    train_data: str | None = option(
        None, help="real lines to train on: PaddleOCR label file, folder with labels.csv/gt.txt, or LMDB"
    )
    val_data: str | None = option(
        None, help="real lines for validation, any format of train_data (default: synthetic)"
    )
    test_data: str | None = option(
        None, help="real lines for testing, any format of train_data (default: synthetic)"
    )
    real_ratio: float = option(
        1.0, help="share of real lines per batch when train_data is set", low=0.0, high=1.0
    )
    skip_bad_samples: bool = option(False, help="skip bad label-file lines instead of stopping")
    num_workers: int = option(
        1, help="data-loading worker processes (0 = in the training process)", low=0, high=64
    )
    render_ahead: bool = option(
        False,
        help="render each training epoch's lines first, in one process per training thread (two or "
        "more), then train on them: on a CPU no core idles while lines are drawn (when it does, training "
        "ignores num_workers)",
    )

    def __post_init__(self) -> None:
        validate_section(self)
        if self.epochs_per_line > self.num_train:
            raise ConfigError(
                f"epochs_per_line={self.epochs_per_line} is more than num_train={self.num_train}; "
                "allowed 1 to num_train (each epoch draws num_train / epochs_per_line new lines)"
            )
        if self.epochs_per_line > 1 and self.train_data is not None:
            raise ConfigError(
                f"epochs_per_line={self.epochs_per_line} applies to synthetic training lines only; "
                "with train_data set it must be 1"
            )


@dataclass
class TrainConfig:
    epochs: int = option(10, help="baseline training epochs", low=1, high=100_000)
    batch_size: int = option(64, help="lines per batch", low=1, high=8192)
    learning_rate: float = option(1e-3, help="peak AdamW learning rate", low=1e-7, high=1.0)
    weight_decay: float = option(0.01, help="AdamW weight decay", low=0.0, high=1.0)
    lr_schedule: str = option(
        "cosine", help="schedule after warmup", choices=("cosine", "onecycle", "constant")
    )
    warmup_ratio: float = option(0.05, help="share of steps spent warming up", low=0.0, high=0.5)
    backbone_lr_multiplier: float = option(
        1.0, help="learning-rate multiplier for the backbone", low=0.0, high=100.0
    )
    neck_lr_multiplier: float = option(1.0, help="learning-rate multiplier for the neck", low=0.0, high=100.0)
    head_lr_multiplier: float = option(1.0, help="learning-rate multiplier for the head", low=0.0, high=100.0)
    grad_clip_norm: float = option(5.0, help="clip gradient norm (0 = off)", low=0.0, high=1e6)
    ema: bool = option(True, help="keep EMA weights and evaluate/save them")
    ema_decay: float = option(0.998, help="EMA decay per step", low=0.0, high=0.99999)
    amp: str = option(
        "auto",
        help="mixed-precision training: auto = bf16 on GPUs and on CPUs with hardware bf16, else FP32",
        choices=("auto", "off", "bf16", "fp16"),
    )
    early_stop_patience: int = option(
        0, help="stop after this many epochs without CER gain (0 = off)", low=0, high=10_000
    )
    target_cer: float = option(
        0.0, help="stop once validation CER <= this fraction (0 = off)", low=0.0, high=1.0
    )
    time_budget_minutes: float = option(
        0.0, help="stop training after this many minutes (0 = off)", low=0.0, high=1e6
    )
    decoding: str = option("greedy", help="CTC decoding for evaluation", choices=("greedy", "beam"))
    beam_width: int = option(8, help="beam width when decoding=beam", low=1, high=256)
    seed: int = option(0, help="seed for data, initialisation and shuffling", low=0, high=2**31 - 1)
    device: str = option("auto", help="auto (cuda when present), cpu, cuda or cuda:N")
    threads: int = option(0, help="torch CPU threads (0 = one per idle core)", low=0, high=1024)

    def __post_init__(self) -> None:
        validate_section(self)
        if not (
            self.device in ("auto", "cpu", "cuda")
            or (self.device.startswith("cuda:") and self.device[5:].isdigit())
        ):
            raise ConfigError(f"device={self.device!r} is not supported; allowed auto, cpu, cuda, cuda:N")


@dataclass
class QuantizationConfig:
    quantization_strategy: str = option(
        "int8_dyn_act_int4_weight",
        help="torchao strategy for ptq/qat variants",
        choices=QUANTIZATION_STRATEGIES,
    )
    quantization_aware_training: bool = option(True, help="train qat variants with fake quantization")
    qat_epochs: int = option(3, help="QAT epochs", low=0, high=10_000)
    weight_bits: int = option(
        4, help="weight bits for int4/int8 choices the strategy leaves open", choices=(4, 8)
    )
    activation_bits: int = option(8, help="activation bits (32 = float activations)", choices=(4, 8, 32))
    qat_learning_rate_multiplier: float = option(
        0.1, help="QAT lr = learning_rate x this", low=1e-4, high=1.0
    )
    quantization_loss_weight: float = option(
        0.01, help="weight of the weight-quantization error penalty during QAT", low=0.0, high=1.0
    )
    calibration_batches: int = option(
        8, help="batches of lines used to calibrate static quantization", low=1, high=100_000
    )
    # percentile clips the rare extreme activations that MinMax stretches its range for; measured on the
    # same baselines it was never worse (bench/compression_bench.py --set observer_type=...)
    observer_type: str = option(
        "percentile",
        help="activation range observer for calibration (histogram/entropy clip by KL: can cost accuracy)",
        choices=("min_max", "moving_average", "percentile", "histogram", "entropy"),
    )
    observer_momentum: float = option(0.1, help="moving_average observer momentum", low=0.001, high=1.0)
    observer_percentile: float = option(99.99, help="percentile observer's percentile", low=90.0, high=100.0)
    quantization_granularity: str = option(
        "per_channel", help="weight scale granularity", choices=("per_tensor", "per_channel", "per_group")
    )
    symmetric_quantization: bool = option(True, help="symmetric weights (zero point 0)")
    group_size: int = option(32, help="group size for per_group / int4 weights", choices=(32, 64, 128, 256))
    skip_first_last: bool = option(False, help="keep the first and last weight layers in float")
    conv_weight_bits: int = option(
        8,
        help="conv weight bits in the ONNX file of ptq/qat variants (4 = int4 weights, float conv compute: "
        "smaller, slower)",
        choices=(4, 8),
    )
    mixed_precision: bool = option(False, help="choose bits per layer from a sensitivity scan")
    progressive_stages: list[str] = option(
        default_factory=list,
        help="QAT quantizes these parts in order, one stage each (e.g. head,neck,backbone)",
        choices=("head", "neck", "backbone"),
    )

    def __post_init__(self) -> None:
        validate_section(self)


@dataclass
class DistillationConfig:
    enable_distillation: bool = option(True, help="distil from the FP32 teacher during QAT and finetuning")
    temperature_distillation: float = option(
        4.0, help="softmax temperature of the per-frame KL", low=1.0, high=20.0
    )
    distillation_weight: float = option(0.3, help="share of the KL term in the loss", low=0.0, high=1.0)

    def __post_init__(self) -> None:
        validate_section(self)


@dataclass
class PruningConfig:
    enable_pruning: bool = option(False, help="produce pruned variants")
    pruning_strategy: str = option(
        "l1_structured",
        help="torch.nn.utils.prune method",
        choices=("l1_unstructured", "random_unstructured", "l1_structured", "ln_structured"),
    )
    pruning_ratio: float = option(0.3, help="share of weights (or channels) removed", low=0.0, high=0.95)
    backbone_pruning_ratio: float | None = option(
        None, help="ratio for the backbone (default pruning_ratio)", low=0.0, high=0.95
    )
    neck_pruning_ratio: float | None = option(
        None, help="ratio for the neck (default pruning_ratio)", low=0.0, high=0.95
    )
    decoder_pruning_ratio: float | None = option(
        None, help="ratio for the head (default pruning_ratio)", low=0.0, high=0.95
    )
    prune_criteria: str = option("l1", help="importance criterion", choices=("l1", "l2", "grad"))
    pruning_epoch: int = option(
        0, help="baseline epoch after which to prune (0 = after training)", low=0, high=100_000
    )
    finetune_epochs: int = option(2, help="finetune epochs after pruning", low=0, high=10_000)
    finetune_lr_multiplier: float = option(
        0.3, help="finetuning lr after pruning = learning_rate x this", low=1e-4, high=1.0
    )
    min_acc_drop: float = option(
        0.01, help="largest CER rise (fraction) accuracy-first pruning accepts", low=0.0, high=1.0
    )
    accuracy_first: bool = option(
        False, help="search the largest ratio whose CER rise stays within min_acc_drop"
    )

    def __post_init__(self) -> None:
        validate_section(self)


@dataclass
class DeployConfig:
    hardware_target: str = option("cpu", help="where the model will run", choices=("cpu", "gpu", "mobile"))
    backend: str = option(
        "auto",
        help="quantization backend (auto: picked from hardware_target)",
        choices=("auto", "onnxruntime", "torchao"),
    )
    variants: list[str] = option(
        default_factory=lambda: ["ort-fp32"],
        help="variants to produce and compare: kind, ptq:STRATEGY or kind(setting=value,...,name=NAME)",
    )
    accuracy_budget_pp: float = option(
        0.5, help="flag variants whose CER rises more than this many percentage points", low=0.0, high=100.0
    )
    latency_threads: int = option(1, help="CPU threads for latency measurements", low=1, high=1024)
    # Sub-millisecond calls on a shared CPU: at 30 runs one stall moved a speed-up by 0.4x (a study's score by
    # 0.03); at 300 repeated measurements of one file agreed within 2% (about 0.2 s more a variant).
    latency_runs: int = option(300, help="timed runs per latency figure", low=3, high=100_000)
    onnx_opset: int = option(17, help="ONNX opset for export", low=13, high=23)

    def __post_init__(self) -> None:
        validate_section(self)
        if "variants" in FIELD_PARSERS:  # registered by pipeline.config.variant_specs
            self.variants = FIELD_PARSERS["variants"](self.variants, False)
