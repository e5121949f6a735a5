"""Text-line recognizers (CRNN, ViT-CTC, SVTR) behind a timm-style registry, weight-layer introspection
(`layers`), and the recognizer heads (`heads`). May import `pipeline.core` and `pipeline.config` only.

>>> from pipeline.models import create_model, list_models
>>> model = create_model("crnn_tiny", num_classes=96)  # logits (B, T, 96), class 0 = CTC blank
>>> rebuilt = create_model(**model.config())  # same architecture, e.g. from a checkpoint config
>>> list_models("*_tiny")
['crnn_tiny', 'svtr_tiny', 'vit_tiny']
"""

from . import crnn, svtr, vit  # noqa: F401  (importing a family module registers its models)
from .base import Recognizer
from .registry import count_macs, create_model, list_models, model_info, register_model

__all__ = ["Recognizer", "count_macs", "create_model", "list_models", "model_info", "register_model"]
