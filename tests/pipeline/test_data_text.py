"""Text sources: every text fits the charset, lengths are honoured, punctuation is not over-sampled."""

from __future__ import annotations

import random
import string

import pytest

from pipeline.config.data_sections import TEXT_SOURCES, SyntheticDataConfig
from pipeline.core.charset import Charset
from pipeline.data.text import TextSampler, TextSources, load_words


def _texts(config: SyntheticDataConfig, charset: Charset, n: int = 400, seed: int = 0) -> list[str]:
    sampler = TextSampler(config, charset)
    rng = random.Random(seed)
    return [sampler.sample(rng) for _ in range(n)]


def test_word_list_is_bundled_and_large():
    words = load_words()
    assert len(words) >= 3000 and len(set(words)) == len(words)
    assert {"the", "people", "water"} <= set(words)


def test_every_source_produces_text():
    sources = TextSources(Charset.from_spec("ascii")).generators()
    rng = random.Random(1)
    assert set(sources) == set(TEXT_SOURCES)
    for name, generate in sources.items():
        assert all(generate(rng) for _ in range(20)), name


@pytest.mark.parametrize("spec", ["ascii", "alnum", "digits"])
def test_texts_fit_charset_and_length_limits(spec):
    charset = Charset.from_spec(spec)
    texts = _texts(SyntheticDataConfig(min_length=3, max_length=25), charset)
    assert all(not charset.missing(t) for t in texts)
    assert all(3 <= len(t) <= 25 for t in texts)
    assert all(t == t.strip() and "  " not in t for t in texts)


def test_digits_charset_gets_digit_heavy_sources():
    charset = Charset.from_spec("digits")
    sampler = TextSampler(SyntheticDataConfig(), charset)
    assert sampler.source_probabilities["words"] == 0 and sampler.source_probabilities["emails"] == 0
    assert sampler.source_probabilities["numbers"] > 0.2
    assert all(t.isdigit() for t in _texts(SyntheticDataConfig(), charset, 200))


def test_punctuation_is_a_small_share_of_characters():
    texts = _texts(SyntheticDataConfig(), Charset.from_spec("ascii"), 1500)
    chars = "".join(texts)
    punctuation = sum(c in string.punctuation for c in chars) / len(chars)
    letters = sum(c.isalpha() for c in chars) / len(chars)
    assert punctuation < 0.12, punctuation
    assert letters > 0.5, letters


def test_long_lines_appear_at_the_configured_ratio():
    config = SyntheticDataConfig(max_length=80, long_text_ratio=0.3)
    texts = _texts(config, Charset.from_spec("ascii"), 600)
    long_share = sum(len(t) >= 40 for t in texts) / len(texts)
    assert 0.2 < long_share < 0.45, long_share
    assert max(len(t) for t in texts) <= 80


def test_unicode_file_charset_uses_random_strings(tmp_path):
    path = tmp_path / "greek.txt"
    path.write_text("\n".join("αβγδεζηθικλμνξοπρστυφχψω"), encoding="utf-8")
    charset = Charset.from_spec(str(path))
    texts = _texts(SyntheticDataConfig(), charset, 100)
    assert all(t and not charset.missing(t) for t in texts)


def test_no_usable_source_is_a_clear_error(tmp_path):
    path = tmp_path / "greek.txt"
    path.write_text("α\nβ\n", encoding="utf-8")
    with pytest.raises(ValueError, match="give text_source_weights\\['random'\\] a positive weight"):
        TextSampler(SyntheticDataConfig(text_source_weights={"words": 1.0}), Charset.from_spec(str(path)))
