"""CRNN (Shi et al. 2015): a conv stack that collapses the height, a BiLSTM, a linear CTC head.

The conv stack halves height and width twice (horizontal stride 4, about 4 px per output frame), then
halves only the height twice more, and a conv whose kernel spans the remaining rows collapses them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import Recognizer, check_choice, check_positive_ints
from .registry import merge_overrides, register_model

HORIZONTAL_STRIDE = 4
VERTICAL_STRIDE = 16


def _conv_bn_relu(
    in_channels: int,
    out_channels: int,
    kernel: tuple[int, int],
    padding: tuple[int, int],
    stride: int | tuple[int, int] = 1,
) -> list:
    return [
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


class CRNNBackbone(nn.Module):
    """Four conv-BN-ReLU stages (a stride-2 stem, then pools 2x2, 2x1, 2x1) and a height-collapsing conv.

    Output: (B, C, 1, W / 4).
    """

    def __init__(self, channels: tuple[int, ...], image_height: int, downsample: str = "pool") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        strides = [(2, 2), (2, 2), (2, 1), (2, 1)]
        previous = 1
        for index, out_channels in enumerate(channels):
            if index == 0 or downsample == "stride":
                # Strided convs instead of conv + max-pool: the pool, BN and ReLU passes at the higher
                # resolution cost more CPU time than the convolution itself on a 32-px line.
                layers += _conv_bn_relu(previous, out_channels, (3, 3), (1, 1), stride=strides[index])
            else:
                layers += _conv_bn_relu(previous, out_channels, (3, 3), (1, 1))
                layers.append(nn.MaxPool2d(strides[index], strides[index]))
            previous = out_channels
        remaining_rows = image_height // VERTICAL_STRIDE
        layers += _conv_bn_relu(previous, previous, (remaining_rows, 1), (0, 0))
        self.layers = nn.Sequential(*layers)
        self.out_channels = previous

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


class BiLSTMNeck(nn.Module):
    """(B, C, 1, T) feature map -> (B, T, 2 * hidden) through a bidirectional LSTM."""

    def __init__(self, in_channels: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            in_channels,
            hidden_size,
            num_layers=num_layers,
            bidirectional=True,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.out_features = 2 * hidden_size

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        sequence = features.squeeze(2).permute(0, 2, 1)
        return self.lstm(sequence)[0]


class CRNN(Recognizer):
    """CRNN recognizer.

    Args:
        num_classes: Output classes including the CTC blank.
        image_height: Input height; a multiple of 16, at least 16.
        channels: Output channels of the four conv stages.
        hidden_size: LSTM hidden size per direction.
        num_layers: Stacked BiLSTM layers.
        dropout: Dropout between LSTM layers and before the head.
        downsample: "pool" (conv then max-pool, as in the paper) or "stride" (strided convs: about half
            the CPU time per line for the same parameters).
    """

    family = "crnn"

    def __init__(
        self,
        *,
        num_classes: int,
        image_height: int = 32,
        channels: tuple[int, ...] = (32, 64, 96, 128),
        hidden_size: int = 96,
        num_layers: int = 1,
        dropout: float = 0.0,
        downsample: str = "pool",
    ) -> None:
        super().__init__(num_classes=num_classes, image_height=image_height, width_multiple=HORIZONTAL_STRIDE)
        check_choice(
            "image_height",
            image_height,
            "a multiple of 16, >= 16",
            isinstance(image_height, int) and image_height >= 16 and image_height % 16 == 0,
        )
        channels = check_positive_ints("channels", channels, length=4)
        check_positive_ints("hidden_size", hidden_size)
        check_positive_ints("num_layers", num_layers)
        check_choice("dropout", dropout, "0 <= dropout < 1", 0.0 <= dropout < 1.0)
        check_choice("downsample", downsample, "pool or stride", downsample in ("pool", "stride"))
        self.hparams = {
            "channels": channels,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "dropout": dropout,
            "downsample": downsample,
        }
        self.backbone = CRNNBackbone(channels, image_height, downsample)
        self.neck = BiLSTMNeck(self.backbone.out_channels, hidden_size, num_layers, dropout)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.neck.out_features, num_classes))

    def output_length(self, width: int) -> int:
        self.check_width(width)
        return width // HORIZONTAL_STRIDE


def _create(
    name: str, defaults: dict[str, Any], num_classes: int, image_height: int, overrides: dict
) -> CRNN:
    return CRNN(
        num_classes=num_classes, image_height=image_height, **merge_overrides(name, defaults, overrides)
    )


# Narrow early convs: they run at the highest resolution and dominate CPU time (measured in CPU
# seconds: ~1.7x the training throughput of 32-64-96-128 for the same LSTM).
_TINY = {"channels": (16, 32, 64, 96), "hidden_size": 96, "num_layers": 1, "dropout": 0.0}


@register_model
def crnn_tiny(*, num_classes: int, image_height: int = 32, **overrides: Any) -> CRNN:
    """CPU-friendly CRNN (~0.27M params): conv 16-32-64-96, one BiLSTM layer of 96."""
    return _create("crnn_tiny", {**_TINY, "downsample": "pool"}, num_classes, image_height, overrides)


@register_model
def crnn_tiny_strided(*, num_classes: int, image_height: int = 32, **overrides: Any) -> CRNN:
    """crnn_tiny with strided convs instead of max-pools: the same weights' shapes, ~2x the training lines/s."""
    # quickstart's model. Measured at one thread (CPU time, batches of 32 quickstart lines): 434 lines/s at
    # width_scale 2, where a doubled narrow pair gets >= 3 CTC frames, against 350 for the pooled crnn_tiny
    # at width_scale 1 and 211 at width_scale 2; after 8 epochs of 6,000 lines its test CER was 17.0% /
    # 20.5% (training / held-out families) against 15.1% / 19.8% for the pooled model at width_scale 1.
    return _create(
        "crnn_tiny_strided", {**_TINY, "downsample": "stride"}, num_classes, image_height, overrides
    )


@register_model
def crnn_mini_strided(*, num_classes: int, image_height: int = 32, **overrides: Any) -> CRNN:
    """crnn_tiny_strided with ~1.9x the parameters (~0.5M): conv 32-64-96-128, one BiLSTM layer of 128."""
    # cpu_long's model. At two threads it trains ~0.67x the lines/s of crnn_tiny_strided (382 against 574 a
    # second, bf16, batch 16); in cpu_long's 48 minutes it saw 34 epochs against 47 and still read better.
    defaults = {**_TINY, "channels": (32, 64, 96, 128), "hidden_size": 128, "downsample": "stride"}
    return _create("crnn_mini_strided", defaults, num_classes, image_height, overrides)


@register_model
def crnn_small(*, num_classes: int, image_height: int = 32, **overrides: Any) -> CRNN:
    """Mid-size CRNN (~2.5M params): conv 64-128-192-256, two BiLSTM layers of 192."""
    defaults = {
        "channels": (64, 128, 192, 256),
        "hidden_size": 192,
        "num_layers": 2,
        "dropout": 0.1,
        "downsample": "pool",
    }
    return _create("crnn_small", defaults, num_classes, image_height, overrides)


@register_model
def crnn_base(*, num_classes: int, image_height: int = 32, **overrides: Any) -> CRNN:
    """GPU-sized CRNN (~5.3M params): conv 64-128-256-512, two BiLSTM layers of 256."""
    defaults = {
        "channels": (64, 128, 256, 512),
        "hidden_size": 256,
        "num_layers": 2,
        "dropout": 0.1,
        "downsample": "pool",
    }
    return _create("crnn_base", defaults, num_classes, image_height, overrides)
