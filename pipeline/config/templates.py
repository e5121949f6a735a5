"""Built-in experiment templates: flat overrides of the field defaults, with a one-line description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    overrides: dict[str, Any]


_DEFAULT_VARIANTS = ["ort-fp32", "ort-int8-dynamic", "ort-int8-static", "ptq", "qat", "pruned-int8"]

# Data settings of the GPU templates. The broad synthetic data (74 training families, colour and photo-like
# lines, realism augmentations, lines stretched 2x) renders at ~1,000-1,600 lines/s per core
# (bench/data_bench.py), while a GPU trains svtr_small on several thousand lines/s: one loader worker (the
# default) would leave it waiting, so eight render in parallel. 200,000 fresh lines an epoch for 30 epochs
# is 6M lines, ~80,000 per training family; 5,000 validation and test lines give each of the 8 held-out
# families ~600 test lines, enough to see one family fail.
_GPU_DATA = {"num_train": 200000, "num_val": 5000, "num_test": 5000, "num_workers": 8}

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "quickstart",
            "crnn_tiny_strided on synthetic ASCII lines; trains and compresses on a 2-core CPU in about 10 minutes",
            {
                # Strided convs: the default width_scale 2 (doubled narrow letters get >= 3 CTC frames) costs
                # no more per line than the pooled crnn_tiny did unstretched (see crnn_tiny_strided). A stride-2
                # CRNN at width_scale 1 (same frames) and two output frames per 4-px step both did worse after 8
                # epochs (18.9% and 19.4% test CER against 17.0%): more frames per letter lengthen CTC's
                # all-blank start whatever makes them, and the stretch at least gives the convs more pixels.
                "model": "crnn_tiny_strided",
                # Fresh lines every epoch: a smaller epoch means more validation points and a shorter
                # QAT / pruning finetune epoch, not less data.
                "num_train": 6000,
                "num_val": 400,
                "num_test": 1000,
                "epochs": 30,
                # More updates beat bigger batches this early in training. On the broad data, 8 epochs of 6,000
                # lines at one thread (~200 CPU-seconds each): batch 16 at lr 4e-3 reached 11.9% / 15.8% test
                # CER (training / held-out families), batch 32 at 6e-3 17.0% / 20.5%, batch 32 at 1e-2 15.3% /
                # 18.6%. (On the old two-family data, batch 32 at 6e-3 beat batch 64 at 3e-3.)
                "batch_size": 16,
                "learning_rate": 4e-3,
                "lr_schedule": "onecycle",
                # A short run: an EMA horizon of ~100 steps, not ~500, or the average still holds early weights.
                "ema_decay": 0.99,
                # The schedule anneals within the budget, so a slower CPU trains fewer epochs, not worse ones;
                # the rest of the 10 minutes goes to the variants.
                "time_budget_minutes": 6.0,
                # Rendering is 1.0-1.7 ms a line, a third to half of an epoch since training steps got faster.
                # A worker rendering beside training took a core from torch: in 1.5-minute runs, epochs took
                # 17-21 s in-process (two training threads) against 20-23 s with one worker and one thread.
                # Rendering each epoch first on every core, then training on every core, beats both: epochs
                # 1.21x faster (bench/render_ahead_bench.py), 18 in the 6 minutes where 16 trained without it.
                "num_workers": 0,
                "render_ahead": True,
                # Each line trains two epochs in a row, so an epoch renders half its lines: epochs of ~11 s
                # where they took ~14, 25 in the 6 minutes against 22 (5.08% / 7.24% test CER against 5.31% /
                # 7.62%, one run each, --mode train, on a noisy machine).
                "epochs_per_line": 2,
                "qat_epochs": 1,
                # The time-budgeted baseline is still learning: its pruned model finetunes at the full lr. At
                # x0.3 (the field's default) pruned int8 cost +1.19 pp and +0.75 pp on two baselines; at x1.0
                # +0.13 pp on a third (bench/quickstart_bench.py), and 10.02% against 11.15% on a fourth,
                # below its FP32 10.07% (a study's probe).
                "finetune_lr_multiplier": 1.0,
                # Prune the BiLSTM, not the convs: on the quickstart model, half the LSTM's hidden units cost
                # +0.31 pp CER (6.3x smaller with int8), while 40-50% of the conv channels cost +2.1-4.0 pp.
                # A better-trained baseline loses more to a cut and needs a longer finetune. On a 21-epoch
                # baseline (FP32 5.36% test CER; `ocrq run --from ID --mode compress --variants ...`), after 3
                # finetune epochs: 40% of the LSTM +1.55 pp, 30% +0.90, 20% +0.70; lr x0.3 or x0.1 instead of
                # x1.0 did worse (+1.59 / +2.40 at 40%). After 5-6 epochs: 40% +0.89, 30% +0.54 (6 epochs
                # +0.42), and 30% with the FP32 teacher's distillation weighted 0.6, not 0.3, +0.35 pp (5.18x
                # smaller, 2.28x faster): the budget, for ~40 s more than 3 epochs. On a 26-epoch baseline of
                # 4.92% (with epochs_per_line 2) 5 epochs cost +0.60 pp, 6 and 7 epochs +0.16 pp each: 6 it is,
                # ~22 s more.
                "pruning_ratio": 0.3,
                "finetune_epochs": 6,
                "distillation_weight": 0.6,
                "backbone_pruning_ratio": 0.0,
                # 64 lines at batch 16 (the study's default space for small templates offers 2 or 4 batches)
                "calibration_batches": 4,
                "variants": list(_DEFAULT_VARIANTS),
            },
        ),
        Template(
            "smoke",
            "a tiny, fast run (well under a minute on CPU) for tests and dry checks; the model learns little",
            {
                "model": "crnn_tiny",
                "num_train": 256,
                "num_val": 64,
                "num_test": 64,
                "epochs": 2,
                "batch_size": 32,
                "learning_rate": 2e-3,
                "num_workers": 0,
                "ema": False,
                "qat_epochs": 1,
                "finetune_epochs": 1,
                "calibration_batches": 2,
                "latency_runs": 5,
                "variants": ["ort-fp32", "ort-int8-dynamic"],
            },
        ),
        Template(
            "cpu_long",
            "crnn_mini_strided trained about an hour on a 2-core CPU: a model to use, without a GPU",
            {
                # quickstart's recipe with ~8x its training, on a model with ~1.9x quickstart's parameters: in
                # the same 48 minutes crnn_tiny_strided trained 47 epochs to 2.41% / 4.07% test CER (training /
                # held-out families; matplotlib-drawn OOD lines 7.01%), crnn_mini_strided 34 epochs to 2.17% /
                # 4.11% (OOD 5.58%), and its pruned int8 cost +0.25 pp against +0.52.
                "model": "crnn_mini_strided",
                "num_train": 20000,
                "num_val": 1000,
                "num_test": 2000,
                "epochs": 60,
                "batch_size": 16,
                "learning_rate": 4e-3,
                "lr_schedule": "onecycle",
                # an EMA horizon of ~500 steps: a long run's average can afford to forget its first epochs
                "ema_decay": 0.998,
                # the schedule anneals within the budget; the rest of the hour goes to the variants
                "time_budget_minutes": 48.0,
                "num_workers": 0,
                "render_ahead": True,
                "qat_epochs": 1,
                # A converged baseline loses more to a cut than quickstart's still-learning one. On one cpu_long
                # baseline (2.86% test CER), pruned int8 cost: half the BiLSTM, 2 finetune epochs at lr x0.3
                # +2.64 pp (6.28x smaller); the same at x1.0 +1.72 pp; 30% at x0.3 +1.02 pp; 30%, 3 epochs at
                # x1.0 +0.71 pp (5.18x smaller). quickstart's longer finetune with stronger distillation (5 epochs,
                # weight 0.6) took its pruned int8 from +0.90 to +0.35 pp on a 21-epoch baseline. On a 43-epoch
                # cpu_long baseline (2.34% test CER) that recipe cost +0.53 pp and 7 epochs +0.45 pp (`ocrq run
                # --from ID --mode compress --variants 'pruned-int8(finetune_epochs=7,name=p30e7)'`): inside the
                # budget, for ~2 minutes more.
                "finetune_epochs": 7,
                "finetune_lr_multiplier": 1.0,
                "distillation_weight": 0.6,
                "pruning_ratio": 0.3,
                "backbone_pruning_ratio": 0.0,
                "calibration_batches": 16,
                "variants": list(_DEFAULT_VARIANTS),
            },
        ),
        Template(
            "ocr_balanced",
            "svtr_small, int8 activations + int4 weights with QAT and distillation (sized for a GPU box)",
            {
                "model": "svtr_small",
                **_GPU_DATA,
                "epochs": 30,
                "batch_size": 128,
                "learning_rate": 1e-3,
                "quantization_strategy": "int8_dyn_act_int4_weight",
                "qat_epochs": 5,
                "distillation_weight": 0.3,
                "calibration_batches": 64,
                "variants": ["ort-fp32", "ort-int8-static", "ptq", "qat", "pruned-int8"],
            },
        ),
        Template(
            "ocr_conservative",
            "svtr_small, int8 weights and activations, long QAT, strong distillation: accuracy first (GPU box)",
            {
                "model": "svtr_small",
                **_GPU_DATA,
                "epochs": 30,
                "batch_size": 128,
                "quantization_strategy": "int8_dyn_act_int8_weight",
                "weight_bits": 8,
                "activation_bits": 8,
                "qat_epochs": 8,
                "distillation_weight": 0.5,
                "calibration_batches": 128,
                "observer_type": "percentile",
                "accuracy_budget_pp": 0.2,
                "variants": ["ort-fp32", "ort-int8-static", "ptq", "qat"],
            },
        ),
        Template(
            "ocr_aggressive",
            "svtr_small, 4-bit weights, 50% structured pruning, mixed precision: size first (GPU box)",
            {
                "model": "svtr_small",
                **_GPU_DATA,
                "epochs": 30,
                "batch_size": 128,
                "quantization_strategy": "int4_weight_only",
                "weight_bits": 4,
                "activation_bits": 32,
                "group_size": 32,
                "qat_epochs": 5,
                "enable_pruning": True,
                "pruning_strategy": "l1_structured",
                "pruning_ratio": 0.5,
                "finetune_epochs": 5,
                "mixed_precision": True,
                "accuracy_budget_pp": 1.0,
                "variants": ["ort-fp32", "ort-int4-weight", "ptq", "qat", "pruned-int8", "mixed"],
            },
        ),
        Template(
            "mobile_optimized",
            "svtr_tiny for phones: 4-bit weights with 8-bit activations, structured pruning (GPU box to train)",
            {
                "model": "svtr_tiny",
                "hardware_target": "mobile",
                **_GPU_DATA,
                "epochs": 30,
                "batch_size": 128,
                "quantization_strategy": "int8_dyn_act_int4_weight",
                # size first: the conv stem in int4 too (float conv compute)
                "conv_weight_bits": 4,
                "qat_epochs": 5,
                "enable_pruning": True,
                "pruning_ratio": 0.3,
                "finetune_epochs": 3,
                "variants": ["ort-fp32", "ort-int8-static", "ort-int4-weight", "qat", "pruned-int8"],
            },
        ),
    )
}
