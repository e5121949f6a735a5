"""The bundled font families, whole-family held-out splits and the no-tofu coverage rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fonts import FONT_DIR, bundled_families, bundled_fonts
from pipeline.config.data_sections import DEFAULT_HELD_OUT_FAMILIES, AugmentationConfig, SyntheticDataConfig
from pipeline.core.charset import Charset
from pipeline.data.fonts import drawable_chars, font_coverage, font_family, resolve_font_pools
from pipeline.data.synthetic import SyntheticLineDataset

ASCII = Charset.from_spec("ascii")
KINDS = ("serif", "sans", "mono", "condensed", "rounded", "light", "bold", "italic", "handwriting", "display")


def test_bundle_is_broad_licensed_and_small():
    families = bundled_families()
    files = bundled_fonts()
    assert len(families) >= 40 and len(files) >= 120
    assert {name for fam in families.values() for name in fam["files"]} == {p.name for p in files}
    for kind in KINDS:  # every kind of face the issue lists has at least three families
        assert sum(kind in fam["kinds"] for fam in families.values()) >= 3, kind
    for path in files:  # every family folder ships its licence
        licence = path.parent / "LICENSE.txt" if path.parent != FONT_DIR else None
        assert licence is None or licence.stat().st_size > 500, path
    sources = (FONT_DIR / "SOURCES.md").read_text(encoding="utf-8")
    assert all(f"| {family} |" in sources for family in families)
    assert sum(p.stat().st_size for p in files) < 14_000_000
    # fonts of other OCR data generators stay out, so out-of-distribution checks by anyone stay honest
    forbidden = (
        "lato",
        "opensans",
        "raleway",
        "roboto-",
        "aller_",
        "allerdisplay",
        "amatic",
        "ubuntu",
        "walkway",
    )
    assert not [p.name for p in files if p.name.lower().startswith(forbidden)]


def test_default_held_out_families_are_whole_and_of_different_kinds():
    families = bundled_families()
    assert len(DEFAULT_HELD_OUT_FAMILIES) >= 6
    first_kinds = {families[name]["kinds"][0] for name in DEFAULT_HELD_OUT_FAMILIES}
    assert len(first_kinds) >= 6
    pools = resolve_font_pools(SyntheticDataConfig(), ASCII)
    held = {p.name for p in pools.held_out}
    for name in DEFAULT_HELD_OUT_FAMILIES:  # every style of a held-out family is held out
        assert set(families[name]["files"]) <= held
    assert not {p.name for p in pools.train} & held
    assert not {font_family(str(p)) for p in pools.train} & set(DEFAULT_HELD_OUT_FAMILIES)


def test_held_out_families_never_appear_in_training_lines():
    dataset = SyntheticLineDataset(SyntheticDataConfig(), AugmentationConfig.none(), ASCII, 400, seed=3)
    used = {dataset.sample(i).font for i in range(0, 400, 2)}
    assert len(used) >= 40
    assert not {dataset.pools.families[name] for name in used} & set(DEFAULT_HELD_OUT_FAMILIES)


def test_a_held_out_family_is_held_out_under_another_file_name(tmp_path):
    """A user's copy of a held-out face (say, installed on the machine) is held out by its family name."""
    shutil.copy(FONT_DIR / "Vollkorn" / "Vollkorn-Regular.ttf", tmp_path / "MyBookFace.ttf")
    pools = resolve_font_pools(SyntheticDataConfig(font_dirs=[str(tmp_path)]), ASCII)
    assert "MyBookFace.ttf" in {p.name for p in pools.held_out}
    assert "MyBookFace.ttf" not in {p.name for p in pools.train}


def test_unknown_held_out_family_is_refused():
    with pytest.raises(ValueError, match="held_out_families \\['Nope'\\] are not font families"):
        resolve_font_pools(SyntheticDataConfig(held_out_families=["Nope"]), ASCII)


def test_characters_with_empty_glyphs_are_not_drawable_and_never_in_labels():
    """OSP-DIN maps '@' to an empty glyph: lines drawn with it must not say '@' (no invisible labels)."""
    din = str(FONT_DIR / "OSPDIN" / "OSP-DIN.ttf")
    assert "@" in font_coverage(din) and "@" not in drawable_chars(din, frozenset(ASCII.chars))
    config = SyntheticDataConfig(
        fonts=["OSP-DIN.ttf", "DejaVuSans.ttf"],
        held_out_families=[],
        text_source_weights={"emails": 1.0, "random": 1.0},
    )
    dataset = SyntheticLineDataset(config, AugmentationConfig.none(), ASCII, 300, seed=5)
    labels = {"OSP-DIN": "", "DejaVuSans": ""}
    for i in range(300):
        labels[dataset.describe(i)] += dataset.label(i)
    assert "@" in labels["DejaVuSans"]  # the text source does produce '@' ...
    assert (
        "@" not in labels["OSP-DIN"] and labels["OSP-DIN"]
    )  # ... but never for the font that cannot draw it
    allerta = str(FONT_DIR / "Allerta" / "allerta-medium.otf")
    assert "{" not in drawable_chars(allerta, frozenset(ASCII.chars))


def test_system_fonts_are_added_without_replacing_bundled_ones(monkeypatch, tmp_path):
    from pipeline.data import fonts as fonts_module

    extra = tmp_path / "SystemSans.ttf"
    shutil.copy(FONT_DIR / "DejaVuSans.ttf", extra)
    clash = tmp_path / "DejaVuSerif.ttf"
    shutil.copy(FONT_DIR / "DejaVuSans.ttf", clash)
    monkeypatch.setattr(fonts_module, "system_font_files", lambda: (extra, clash))
    found = fonts_module.available_fonts(system=True)
    assert found["SystemSans.ttf"] == extra and found["DejaVuSerif.ttf"].parent == FONT_DIR
    pools = resolve_font_pools(SyntheticDataConfig(fonts="system"), ASCII)
    assert "SystemSans.ttf" in {p.name for p in pools.train}
    assert "SystemSans.ttf" not in {p.name for p in resolve_font_pools(SyntheticDataConfig(), ASCII).train}


def test_fonts_accepts_system_and_refuses_empty():
    assert SyntheticDataConfig(fonts="system").fonts == "system"
    assert SyntheticDataConfig(fonts="DejaVuSans.ttf").fonts == ["DejaVuSans.ttf"]
    with pytest.raises(ValueError, match="'all' or 'system'"):
        SyntheticDataConfig(fonts=[])
    assert Path(font_family(str(FONT_DIR / "DejaVuSans.ttf"))).name == "DejaVu Sans"
