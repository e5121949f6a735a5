"""ViT-CTC: a timm `VisionTransformer` over small non-square patches, rows merged per column.

Patches are 8 px high and 4 px wide by default, so a 32-px line has 4 patch rows and one output
frame per 4 px of width. Positions: timm's absolute embedding is turned off because resizing it for
a new width is Python-side shape arithmetic that an ONNX trace freezes; instead a learned embedding
per patch row is added and a depthwise 3x3 conv over the patch grid (a position-encoding generator,
Chu et al. 2021, "CPVT") gives relative horizontal position for any width.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import Recognizer, check_choice, check_positive_ints
from .registry import merge_overrides, register_model


class ViTBackbone(nn.Module):
    """Patch embedding + positions + transformer blocks. Output tokens (B, rows * cols, dim), row-major."""

    def __init__(
        self,
        image_height: int,
        patch_size: tuple[int, int],
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float,
        drop_path_rate: float,
    ) -> None:
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer  # timm import is slow; only when used

        self.vit = VisionTransformer(
            img_size=(image_height, 32 * patch_size[1]),
            patch_size=patch_size,
            in_chans=1,
            num_classes=0,
            global_pool="",
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            class_token=False,
            pos_embed="none",
            dynamic_img_size=True,
            drop_path_rate=drop_path_rate,
        )
        self.rows = image_height // patch_size[0]
        self.row_embed = nn.Parameter(torch.zeros(1, self.rows, 1, embed_dim))
        nn.init.trunc_normal_(self.row_embed, std=0.02)
        self.position_conv = nn.Conv2d(embed_dim, embed_dim, 3, padding=1, groups=embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # timm's PatchEmbed.forward asserts on Python ints (a trace freezes them); call its projection.
        grid = self.vit.patch_embed.proj(images).permute(0, 2, 3, 1) + self.row_embed
        grid = grid + self.position_conv(grid.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        tokens = self.vit.norm_pre(grid.flatten(1, 2))
        return self.vit.norm(self.vit.blocks(tokens))


class RowMergeNeck(nn.Module):
    """Concatenate the patch rows of each column and project: (B, rows * cols, dim) -> (B, cols, out)."""

    def __init__(self, rows: int, dim: int, out_features: int) -> None:
        super().__init__()
        self.rows = rows
        self.proj = nn.Linear(rows * dim, out_features)
        self.act = nn.GELU()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        # reshape with traced sizes (not unflatten) so batch and width stay symbolic in ONNX
        batch, _, dim = tokens.shape
        columns = tokens.reshape(batch, self.rows, -1, dim).permute(0, 2, 1, 3).flatten(2)
        return self.act(self.proj(columns))


class ViTRecognizer(Recognizer):
    """ViT-CTC recognizer.

    Args:
        num_classes: Output classes including the CTC blank.
        image_height: Input height; a multiple of the patch height.
        patch_size: (height, width) of a patch; the width is the horizontal stride per output frame.
        embed_dim: Token width.
        depth: Transformer blocks.
        num_heads: Attention heads (must divide `embed_dim`).
        mlp_ratio: MLP hidden size / `embed_dim`.
        neck_dim: Width of the per-column features fed to the head.
        drop_path_rate: Stochastic depth of the last block (linearly increasing).
    """

    family = "vit"

    def __init__(
        self,
        *,
        num_classes: int,
        image_height: int = 32,
        patch_size: tuple[int, int] = (8, 4),
        embed_dim: int = 128,
        depth: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        neck_dim: int = 128,
        drop_path_rate: float = 0.0,
    ) -> None:
        patch_size = check_positive_ints("patch_size", patch_size, length=2)
        super().__init__(num_classes=num_classes, image_height=image_height, width_multiple=patch_size[1])
        check_choice(
            "image_height",
            image_height,
            f"a positive multiple of the patch height {patch_size[0]}",
            isinstance(image_height, int) and image_height > 0 and image_height % patch_size[0] == 0,
        )
        check_positive_ints("depth", depth)
        check_positive_ints("neck_dim", neck_dim)
        check_choice(
            "num_heads",
            num_heads,
            f"a positive divisor of embed_dim={embed_dim}",
            isinstance(embed_dim, int)
            and isinstance(num_heads, int)
            and num_heads > 0
            and embed_dim > 0
            and embed_dim % num_heads == 0,
        )
        check_choice("mlp_ratio", mlp_ratio, "> 0", mlp_ratio > 0)
        check_choice("drop_path_rate", drop_path_rate, "0 <= rate < 1", 0.0 <= drop_path_rate < 1.0)
        self.hparams = {
            "patch_size": patch_size,
            "embed_dim": embed_dim,
            "depth": depth,
            "num_heads": num_heads,
            "mlp_ratio": mlp_ratio,
            "neck_dim": neck_dim,
            "drop_path_rate": drop_path_rate,
        }
        self.backbone = ViTBackbone(
            image_height, patch_size, embed_dim, depth, num_heads, mlp_ratio, drop_path_rate
        )
        self.neck = RowMergeNeck(self.backbone.rows, embed_dim, neck_dim)
        self.head = nn.Linear(neck_dim, num_classes)

    def output_length(self, width: int) -> int:
        self.check_width(width)
        return width // self.width_multiple


def _create(name: str, defaults: dict[str, Any], num_classes: int, image_height: int, overrides: dict):
    return ViTRecognizer(
        num_classes=num_classes, image_height=image_height, **merge_overrides(name, defaults, overrides)
    )


@register_model
def vit_tiny(*, num_classes: int, image_height: int = 32, **overrides: Any) -> ViTRecognizer:
    """CPU-friendly ViT-CTC (~0.9M params): 8x4 patches, dim 128, 4 blocks, 4 heads."""
    defaults = {
        "patch_size": (8, 4),
        "embed_dim": 128,
        "depth": 4,
        "num_heads": 4,
        "mlp_ratio": 4.0,
        "neck_dim": 128,
        "drop_path_rate": 0.0,
    }
    return _create("vit_tiny", defaults, num_classes, image_height, overrides)


@register_model
def vit_small(*, num_classes: int, image_height: int = 32, **overrides: Any) -> ViTRecognizer:
    """Mid-size ViT-CTC (~5M params): 8x4 patches, dim 256, 6 blocks, 4 heads."""
    defaults = {
        "patch_size": (8, 4),
        "embed_dim": 256,
        "depth": 6,
        "num_heads": 4,
        "mlp_ratio": 4.0,
        "neck_dim": 256,
        "drop_path_rate": 0.05,
    }
    return _create("vit_small", defaults, num_classes, image_height, overrides)


@register_model
def vit_base(*, num_classes: int, image_height: int = 32, **overrides: Any) -> ViTRecognizer:
    """GPU-sized ViT-CTC (~22M params, ViT-S width): 8x4 patches, dim 384, 12 blocks, 6 heads."""
    defaults = {
        "patch_size": (8, 4),
        "embed_dim": 384,
        "depth": 12,
        "num_heads": 6,
        "mlp_ratio": 4.0,
        "neck_dim": 384,
        "drop_path_rate": 0.1,
    }
    return _create("vit_base", defaults, num_classes, image_height, overrides)
