"""Training and augmentation analysis: how errors moved between the last and the best checkpoint, and, for
synthetic data, the trained model's CER on lines that carry one augmentation alone at its strongest
setting (which augmentations it has learned to ignore, which still hurt)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.analysis.changes import flips
from pipeline.analysis.errors import error_kind_totals
from pipeline.analysis.lines import LineSet
from pipeline.config import ExperimentConfig
from pipeline.core.charset import Charset
from pipeline.data.layout import plan_line
from pipeline.data.render import draw_line_pixels
from pipeline.data.samples import pixels_to_tensor
from pipeline.data.synthetic import SyntheticLineDataset
from pipeline.evaluation.metrics import cer

# Every augmentation switched off, plain backgrounds: the reference rendering.
_OFF = {
    "rotation_prob": 0.0,
    "perspective_prob": 0.0,
    "char_spacing_prob": 0.0,
    "baseline_jitter_prob": 0.0,
    "blur_prob": 0.0,
    "jpeg_prob": 0.0,
    "noise_prob": 0.0,
    "color_prob": 0.0,
    "contrast_prob": 0.0,
    "brightness_prob": 0.0,
    "background_plain_weight": 1.0,
    "background_paper_weight": 0.0,
    "background_gradient_weight": 0.0,
    "background_texture_weight": 0.0,
}


def strongest(name: str, aug, index: int) -> dict[str, Any]:
    """RenderParams fields of one augmentation at the strongest setting the config allows."""
    sign = 1.0 if index % 2 == 0 else -1.0
    return {
        "rotation": {"rotation_degrees": sign * aug.rotation_max_degrees},
        "perspective": {
            "perspective_shifts": tuple(
                sign * aug.perspective_max_shift * s for s in (1, -1, -1, 1, 1, 1, -1, -1)
            )
        },
        "char_spacing": {"char_spacing": aug.char_spacing_min},
        "baseline_jitter": {"baseline_jitter": aug.baseline_jitter_max},
        "blur": {"blur_sigma": aug.blur_sigma_max},
        "noise": {"noise_sigma": aug.noise_sigma_max},
        "jpeg": {"jpeg_quality": aug.jpeg_quality_min},
        "contrast": {"contrast": aug.contrast_min},
        "brightness": {"brightness": sign * aug.brightness_max_shift},
        "texture_background": {"background_kind": "texture", "background_strength": 28.0},
    }[name]


AUGMENTATIONS = (
    "rotation",
    "perspective",
    "char_spacing",
    "baseline_jitter",
    "blur",
    "noise",
    "jpeg",
    "contrast",
    "brightness",
    "texture_background",
)


def augmentation_line_sets(
    config: ExperimentConfig, charset: Charset, count: int, names: tuple[str, ...] = AUGMENTATIONS
) -> dict[str, LineSet]:
    """The same `count` test-stream lines rendered clean ("none") and with each augmentation alone."""
    clean_aug = replace(config.augment, **_OFF)
    dataset = SyntheticLineDataset(
        config.synthetic,
        clean_aug,
        charset,
        size=count,
        seed=config.train.seed,
        split="test",
        font_pool="train",
    )
    height = config.synthetic.image_height
    sets: dict[str, LineSet] = {}
    plans = [dataset._plan(i) for i in range(count)]
    for name in ("none", *names):
        images, labels = [], []
        for index, (text, font, params, plan) in enumerate(plans):
            if name != "none":
                params = replace(params, **strongest(name, config.augment, index))
                plan = plan_line(text, font, params, height)
            pixels = draw_line_pixels(plan, params)
            if pixels.shape[1] > config.synthetic.max_image_width:  # a strong rotation widened a long line
                pixels = pixels[:, : config.synthetic.max_image_width]
            images.append(pixels_to_tensor(pixels))
            labels.append(text)
        sets[name] = LineSet(images, labels, [str(i) for i in range(count)], f"{name} alone")
    return sets


def checkpoint_models(experiment_dir: Path) -> dict[str, torch.nn.Module]:
    """The best and the last weights of the baseline training (from checkpoints/last.pt), when stored."""
    from pipeline.core.checkpoint import load_checkpoint
    from pipeline.models import create_model

    path = Path(experiment_dir) / "checkpoints" / "last.pt"
    if not path.is_file():
        return {}
    checkpoint = load_checkpoint(path)
    models = {}
    for name, key in (("best", "best_weights"), ("last", "eval_weights")):
        weights = checkpoint.get(key) or (checkpoint.get("model") if name == "last" else None)
        if weights:
            model = create_model(**checkpoint["model_config"]).eval()
            model.load_state_dict(weights)
            models[name] = model
    return models


def checkpoint_report(readings: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    """CER, error kinds and flips of the last checkpoint against the best."""
    out: dict[str, Any] = {
        name: {"cer": cer(r.predictions, labels), "kinds": error_kind_totals(r.predictions, labels)}
        for name, r in readings.items()
    }
    if "best" in readings and "last" in readings:
        out["last_vs_best"] = flips(readings["best"].correct, readings["last"].correct).to_dict()
    return out


def augmentation_report(cers: dict[str, float]) -> list[dict[str, Any]]:
    """Rows per augmentation: CER alone at its strongest and the extra CER over clean lines, worst first."""
    clean = cers["none"]
    rows = [
        {"augmentation": name, "cer": value, "extra_cer": value - clean}
        for name, value in cers.items()
        if name != "none"
    ]
    rows.sort(key=lambda r: -r["extra_cer"])
    return [{"augmentation": "none", "cer": clean, "extra_cer": 0.0}, *rows]


def mean_or_nan(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")
