"""Narrow doubled letters get enough CTC frames at every model's stride under the default resize rule."""

from __future__ import annotations

import random
from dataclasses import replace

from fonts import FONT_DIR
from pipeline.config.data_sections import AugmentationConfig, SyntheticDataConfig
from pipeline.data.frames import MIN_PAIR_FRAMES, narrow_pair_frames, narrowest_pair
from pipeline.data.layout import plan_line
from pipeline.data.params import sample_render_params
from pipeline.models import list_models, model_info


def test_default_resize_rule_gives_doubled_narrow_pairs_three_frames_at_every_stride():
    config = SyntheticDataConfig()
    strides = {model_info(name)["width_multiple"] for name in list_models()}
    for stride in strides:
        pair = narrowest_pair(stride, config.image_height, config.width_scale)
        assert pair.frames >= MIN_PAIR_FRAMES, (stride, pair)
    # without the stretch the same pairs collapse: the rule is what makes them readable
    assert narrowest_pair(max(strides), config.image_height, 1.0).frames < MIN_PAIR_FRAMES


def test_frame_estimate_matches_a_rendered_line():
    """The estimate is the rendered geometry: plan 'll' and compare its text width with the frames."""
    font = FONT_DIR / "DejaVuSans.ttf"
    params = replace(
        sample_render_params(random.Random(0), AugmentationConfig.none()),
        margin_top=0.14,
        margin_bottom=0.14,
        pad_left=0.0,
        pad_right=0.0,
        char_spacing=1.0,
    )
    plan = plan_line("ll", font, params, 32, width_scale=2.0)
    rendered = plan.output_size[0] / 4
    estimate = next(r for r in narrow_pair_frames(4, 32, 2.0) if r.font == font.name and r.pair == "ll")
    assert abs(rendered - estimate.frames) / estimate.frames < 0.35
    unstretched = plan_line("ll", font, params, 32, width_scale=1.0).output_size[0]
    assert abs(2 * unstretched - plan.output_size[0]) <= 2


def test_every_template_gives_doubled_narrow_pairs_three_frames():
    """quickstart and smoke too: their model's stride and their resize rule together give the narrowest
    doubled pair of the bundled fonts room for letter, blank, letter."""
    from pipeline.config import TEMPLATES, resolve_config

    for name in TEMPLATES:
        config = resolve_config(name)
        stride = model_info(config.model.model, image_height=config.synthetic.image_height)["width_multiple"]
        pair = narrowest_pair(stride, config.synthetic.image_height, config.synthetic.width_scale)
        assert pair.frames >= MIN_PAIR_FRAMES, (name, pair)
