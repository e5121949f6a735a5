"""SVTR-style recognizer (Du et al. 2022): conv stem, mixing blocks in three stages, height merge.

The stem divides height and width by 4; between stages a strided conv halves only the height, so the
output keeps one frame per 4 px of width. Local mixing is a depthwise conv over the feature grid
(SVTR's window attention uses a mask built for one input size, which a variable-width ONNX graph
cannot carry); global mixing is full self-attention over all grid positions (timm's `Block`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import Recognizer, check_choice, check_positive_ints
from .registry import merge_overrides, register_model

HORIZONTAL_STRIDE = 4


class ConvStem(nn.Module):
    """Two 3x3 stride-2 conv-BN-GELU layers: (B, 1, H, W) -> (B, dim, H/4, W/4)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, dim // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(dim // 2),
            nn.GELU(),
            nn.Conv2d(dim // 2, dim, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(dim),
            nn.GELU(),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


class LocalMixingBlock(nn.Module):
    """Pre-norm block whose token mixer is a depthwise conv over the (rows, cols) grid. Input NHWC."""

    def __init__(self, dim: int, kernel: tuple[int, int], mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        from timm.layers import DropPath, Mlp

        self.norm1 = nn.LayerNorm(dim)
        self.mixer = nn.Conv2d(dim, dim, kernel, padding=(kernel[0] // 2, kernel[1] // 2), groups=dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        mixed = self.mixer(self.norm1(grid).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        grid = grid + self.drop_path(mixed)
        return grid + self.drop_path(self.mlp(self.norm2(grid)))


class GlobalMixingBlock(nn.Module):
    """timm transformer `Block` over all grid positions. Input NHWC."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        self.block = Block(dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=True, drop_path=drop_path)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        # Reshape back with the grid's own (traced) sizes; `unflatten(1, (rows, -1))` lost the symbolic
        # batch and width in the ONNX trace and later reshapes were frozen to the example's shape.
        batch, rows, cols, channels = grid.shape
        return self.block(grid.flatten(1, 2)).reshape(batch, rows, cols, channels)


class HeightMerge(nn.Module):
    """3x3 conv with stride (2, 1) and LayerNorm: halves the rows, changes the width of the features."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_dim, out_dim, 3, stride=(2, 1), padding=1)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(grid.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class SVTRBackbone(nn.Module):
    """Stem and three stages of mixing blocks. Output grid (B, H/16, W/4, dims[-1]), channels last."""

    def __init__(
        self,
        dims: tuple[int, ...],
        depths: tuple[int, ...],
        num_heads: tuple[int, ...],
        local_blocks: int,
        local_kernel: tuple[int, int],
        mlp_ratio: float,
        drop_path_rate: float,
    ) -> None:
        super().__init__()
        self.stem = ConvStem(dims[0])
        total = sum(depths)
        rates = [drop_path_rate * i / max(1, total - 1) for i in range(total)]
        index = 0
        stages, merges = [], []
        for stage, (dim, depth, heads) in enumerate(zip(dims, depths, num_heads, strict=True)):
            blocks = []
            for _ in range(depth):
                if index < local_blocks:
                    blocks.append(LocalMixingBlock(dim, local_kernel, mlp_ratio, rates[index]))
                else:
                    blocks.append(GlobalMixingBlock(dim, heads, mlp_ratio, rates[index]))
                index += 1
            stages.append(nn.Sequential(*blocks))
            if stage < len(dims) - 1:
                merges.append(HeightMerge(dim, dims[stage + 1]))
        self.stages = nn.ModuleList(stages)
        self.merges = nn.ModuleList(merges)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grid = self.stem(images).permute(0, 2, 3, 1)
        for stage, blocks in enumerate(self.stages):
            grid = blocks(grid)
            if stage < len(self.merges):
                grid = self.merges[stage](grid)
        return grid


class CombineNeck(nn.Module):
    """SVTR's combining step: average the rows, project, Hardswish: (B, rows, T, C) -> (B, T, out)."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, out_dim)
        self.act = nn.Hardswish()
        self.dropout = nn.Dropout(dropout)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.act(self.proj(grid.mean(dim=1))))


class SVTR(Recognizer):
    """SVTR-style recognizer.

    Args:
        num_classes: Output classes including the CTC blank.
        image_height: Input height; a multiple of 16, at least 16.
        dims: Feature widths of the three stages (the first also sets the stem).
        depths: Mixing blocks per stage.
        num_heads: Attention heads per stage (each divides its dim).
        local_blocks: How many blocks, counted from the first, mix locally; the rest mix globally.
        local_kernel: (rows, cols) of the depthwise local-mixing kernel (odd numbers).
        mlp_ratio: MLP hidden size / dim.
        neck_dim: Width of the per-frame features fed to the head.
        drop_path_rate: Stochastic depth of the last block (linearly increasing).
        dropout: Dropout before the head.
    """

    family = "svtr"

    def __init__(
        self,
        *,
        num_classes: int,
        image_height: int = 32,
        dims: tuple[int, ...] = (64, 96, 128),
        depths: tuple[int, ...] = (1, 2, 2),
        num_heads: tuple[int, ...] = (2, 3, 4),
        local_blocks: int = 2,
        local_kernel: tuple[int, int] = (7, 11),
        mlp_ratio: float = 4.0,
        neck_dim: int = 192,
        drop_path_rate: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(num_classes=num_classes, image_height=image_height, width_multiple=HORIZONTAL_STRIDE)
        check_choice(
            "image_height",
            image_height,
            "a multiple of 16, >= 16",
            isinstance(image_height, int) and image_height >= 16 and image_height % 16 == 0,
        )
        dims = check_positive_ints("dims", dims, length=3)
        depths = check_positive_ints("depths", depths, length=3)
        num_heads = check_positive_ints("num_heads", num_heads, length=3)
        check_choice(
            "num_heads",
            num_heads,
            f"3 heads that divide dims={dims}",
            all(d % h == 0 for d, h in zip(dims, num_heads, strict=True)),
        )
        check_choice("dims", dims, "even widths (the stem uses dims[0] / 2)", dims[0] % 2 == 0)
        check_choice(
            "local_blocks",
            local_blocks,
            f"0..{sum(depths)}",
            isinstance(local_blocks, int) and 0 <= local_blocks <= sum(depths),
        )
        local_kernel = check_positive_ints("local_kernel", local_kernel, length=2)
        check_choice("local_kernel", local_kernel, "two odd sizes", all(k % 2 == 1 for k in local_kernel))
        check_choice("mlp_ratio", mlp_ratio, "> 0", mlp_ratio > 0)
        check_positive_ints("neck_dim", neck_dim)
        check_choice("drop_path_rate", drop_path_rate, "0 <= rate < 1", 0.0 <= drop_path_rate < 1.0)
        check_choice("dropout", dropout, "0 <= dropout < 1", 0.0 <= dropout < 1.0)
        self.hparams = {
            "dims": dims,
            "depths": depths,
            "num_heads": num_heads,
            "local_blocks": local_blocks,
            "local_kernel": local_kernel,
            "mlp_ratio": mlp_ratio,
            "neck_dim": neck_dim,
            "drop_path_rate": drop_path_rate,
            "dropout": dropout,
        }
        self.backbone = SVTRBackbone(
            dims, depths, num_heads, local_blocks, local_kernel, mlp_ratio, drop_path_rate
        )
        self.neck = CombineNeck(dims[-1], neck_dim, dropout)
        self.head = nn.Linear(neck_dim, num_classes)
        self.apply(_init_weights)

    def output_length(self, width: int) -> int:
        self.check_width(width)
        return width // HORIZONTAL_STRIDE


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _create(
    name: str, defaults: dict[str, Any], num_classes: int, image_height: int, overrides: dict
) -> SVTR:
    return SVTR(
        num_classes=num_classes, image_height=image_height, **merge_overrides(name, defaults, overrides)
    )


@register_model
def svtr_tiny(*, num_classes: int, image_height: int = 32, **overrides: Any) -> SVTR:
    """CPU-friendly SVTR (~0.86M params): dims 64-96-128, depths 1-2-2, 2 local then 3 global blocks."""
    defaults = {
        "dims": (64, 96, 128),
        "depths": (1, 2, 2),
        "num_heads": (2, 3, 4),
        "local_blocks": 2,
        "local_kernel": (7, 11),
        "mlp_ratio": 4.0,
        "neck_dim": 192,
        "drop_path_rate": 0.0,
        "dropout": 0.0,
    }
    return _create("svtr_tiny", defaults, num_classes, image_height, overrides)


@register_model
def svtr_small(*, num_classes: int, image_height: int = 32, **overrides: Any) -> SVTR:
    """SVTR-T sized (~4M params): dims 64-128-256, depths 3-6-3, 6 local then 6 global blocks."""
    defaults = {
        "dims": (64, 128, 256),
        "depths": (3, 6, 3),
        "num_heads": (2, 4, 8),
        "local_blocks": 6,
        "local_kernel": (7, 11),
        "mlp_ratio": 4.0,
        "neck_dim": 192,
        "drop_path_rate": 0.1,
        "dropout": 0.1,
    }
    return _create("svtr_small", defaults, num_classes, image_height, overrides)


@register_model
def svtr_base(*, num_classes: int, image_height: int = 32, **overrides: Any) -> SVTR:
    """SVTR-B sized (~21M params): dims 128-256-384, depths 3-6-9, 8 local then 10 global blocks."""
    defaults = {
        "dims": (128, 256, 384),
        "depths": (3, 6, 9),
        "num_heads": (4, 8, 12),
        "local_blocks": 8,
        "local_kernel": (7, 11),
        "mlp_ratio": 4.0,
        "neck_dim": 256,
        "drop_path_rate": 0.1,
        "dropout": 0.1,
    }
    return _create("svtr_base", defaults, num_classes, image_height, overrides)
