"""What synthetic lines say: words, phrases, numbers, dates, prices, codes, e-mails, addresses, random strings.

Every text is filtered to the characters the charset (and the chosen font) can show, so a label never holds
a character the model cannot output. Sources whose text mostly falls outside the charset (words for a
digits charset) are down-weighted automatically, so a digits charset gets mostly digit-heavy lines.
Punctuation is drawn far less often than letters and digits (uniform sampling from `string.punctuation`
would make a third of random text punctuation).
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from functools import lru_cache
from importlib import resources

from pipeline.config.data_sections import TEXT_SOURCES, SyntheticDataConfig
from pipeline.core.charset import Charset

FIRST_NAMES = (
    "james mary john patricia robert jennifer michael linda william elizabeth david barbara richard susan "
    "joseph jessica thomas sarah charles karen daniel nancy matthew lisa anthony betty mark sandra paul "
    "ashley steven kimberly andrew emily kevin donna brian michelle george carol edward amanda ronald anna "
    "timothy laura jason helen jeffrey olivia ryan emma jacob sophia gary maria nicholas lucas ana liam"
).split()
LAST_NAMES = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez "
    "wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark "
    "ramirez lewis robinson walker young allen king wright scott torres nguyen hill flores green adams "
    "nelson baker hall rivera campbell mitchell carter roberts schmidt muller rossi novak"
).split()
STREET_SUFFIXES = (
    "Street",
    "St.",
    "Avenue",
    "Ave.",
    "Road",
    "Rd.",
    "Lane",
    "Drive",
    "Dr.",
    "Way",
    "Blvd.",
    "Court",
)
STATES = ("CA", "NY", "TX", "WA", "IL", "MA", "FL", "OR", "CO", "GA", "NJ", "OH")
MONTHS = "January February March April May June July August September October November December".split()
TLDS = ("com", "org", "net", "io", "de", "co.uk", "fr", "edu", "info")
CURRENCY_SYMBOLS = ("$", "€", "£", "¥")
CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD")
END_PUNCTUATION = (".", ".", ".", "?", "!", ":", ";")

Rng = random.Random


@lru_cache(maxsize=1)
def load_words() -> tuple[str, ...]:
    """The bundled list of common English words, most frequent first."""
    text = resources.files("pipeline.data").joinpath("resources/words.txt").read_text(encoding="utf-8")
    return tuple(w for w in text.split() if w)


class TextSources:
    """Raw text generators (before charset filtering). Each method takes an rng and returns one unit."""

    def __init__(self, charset: Charset) -> None:
        self.words = load_words()
        # Zipf-like rank weights: common words dominate as in real text, rare ones still appear.
        self._word_cdf = list(
            itertools.accumulate(1.0 / (rank + 20.0) for rank in range(1, len(self.words) + 1))
        )
        self.currency_symbols = tuple(s for s in CURRENCY_SYMBOLS if s in charset) or ("",)
        self._random_chars, self._random_cdf = _random_char_table(charset)

    def _word(self, rng: Rng) -> str:
        pick = bisect.bisect_right(self._word_cdf, rng.random() * self._word_cdf[-1])
        return self.words[min(pick, len(self.words) - 1)]

    def _digits(self, rng: Rng, count: int) -> str:
        return "".join(rng.choices("0123456789", k=count))

    @staticmethod
    def _case(rng: Rng, word: str) -> str:
        roll = rng.random()
        if roll < 0.2:
            return word.capitalize()
        if roll < 0.26:
            return word.upper()
        return word

    def words_source(self, rng: Rng) -> str:
        return self._case(rng, self._word(rng))

    def phrases(self, rng: Rng) -> str:
        count = rng.randrange(2, 8)
        parts = []
        for i in range(count):
            word = self._word(rng)
            roll = rng.random()
            if roll < 0.04:
                word = self.numbers(rng)
            elif roll < 0.06 and i + 1 < count:
                word = f"{word}-{self._word(rng)}"
            if i + 1 < count and rng.random() < 0.07:
                word += ","
            parts.append(word)
        if rng.random() < 0.55:
            parts[0] = parts[0].capitalize()
        elif rng.random() < 0.1:
            parts = [p.upper() for p in parts]
        text = " ".join(parts)
        roll = rng.random()
        if roll < 0.3:
            text += rng.choice(END_PUNCTUATION)
        elif roll < 0.33:
            text = f'"{text}"' if rng.random() < 0.5 else f"({text})"
        return text

    def numbers(self, rng: Rng) -> str:
        kind = rng.random()
        if kind < 0.35:
            value = rng.randrange(0, 10 ** rng.randrange(1, 8))
            text = f"{value:,}" if value >= 1000 and rng.random() < 0.5 else str(value)
        elif kind < 0.55:
            text = f"{rng.random() * 10 ** rng.randrange(1, 5):.{rng.randrange(1, 4)}f}"
        elif kind < 0.65:
            text = f"{rng.random() * 100:.{rng.randrange(0, 2)}f}%"
        elif kind < 0.75:
            text = f"-{rng.randrange(1, 10000)}"
        elif kind < 0.87:
            area, mid, end = self._digits(rng, 3), self._digits(rng, 3), self._digits(rng, 4)
            forms = (
                f"({area}) {mid}-{end}",
                f"+1 {area} {mid} {end}",
                f"{area}-{mid}-{end}",
                f"{area}.{mid}.{end}",
            )
            text = rng.choice(forms)
        elif kind < 0.94:
            low = rng.randrange(1, 500)
            text = f"{low}-{low + rng.randrange(1, 100)}"
        else:
            text = f"{rng.randrange(1, 10)}/{rng.randrange(2, 13)}"
        return text

    def dates(self, rng: Rng) -> str:
        year, month, day = rng.randrange(1950, 2040), rng.randrange(1, 13), rng.randrange(1, 29)
        hour, minute = rng.randrange(0, 24), rng.randrange(0, 60)
        name = MONTHS[month - 1]
        forms = (
            f"{year}-{month:02d}-{day:02d}",
            f"{day:02d}/{month:02d}/{year}",
            f"{month}/{day}/{year % 100:02d}",
            f"{day}.{month}.{year}",
            f"{name} {day}, {year}",
            f"{day} {name[:3]} {year}",
            f"{name[:3].upper()} {day:02d} {year}",
            f"{hour:02d}:{minute:02d}",
            f"{year}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}",
            f"{(hour % 12) or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}",
        )
        return rng.choice(forms)

    def prices(self, rng: Rng) -> str:
        magnitude = rng.randrange(0, 6)
        amount = rng.random() * 10**magnitude + 0.01
        number = f"{amount:,.2f}" if rng.random() < 0.8 else f"{int(amount):,}"
        symbol = rng.choice(self.currency_symbols)
        roll = rng.random()
        if roll < 0.55 and symbol:
            return f"{symbol}{number}"
        if roll < 0.7 and symbol:
            return f"{number} {symbol}"
        code = rng.choice(CURRENCY_CODES)
        return f"{number} {code}" if rng.random() < 0.5 else f"{code} {number}"

    def codes(self, rng: Rng) -> str:
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"

        def caps(n: int) -> str:
            return "".join(rng.choices(letters, k=n))

        kind = rng.randrange(0, 10)
        if kind == 0:
            return f"INV-{rng.randrange(2000, 2040)}-{self._digits(rng, 5)}"
        if kind == 1:
            return f"{caps(2)}{self._digits(rng, 2)}-{caps(2)}{self._digits(rng, 2)}"
        if kind == 2:
            return f"SKU {self._digits(rng, 4)}-{caps(2)}"
        if kind == 3:
            return "#" + "".join(rng.choices("0123456789ABCDEF", k=6))
        if kind == 4:
            return "0x" + "".join(rng.choices("0123456789abcdef", k=rng.randrange(2, 9)))
        if kind == 5:
            return f"978-{self._digits(rng, 1)}-{self._digits(rng, 2)}-{self._digits(rng, 6)}-{self._digits(rng, 1)}"
        if kind == 6:
            return f"{self._digits(rng, 1)}{caps(3)}{self._digits(rng, 3)}"
        if kind == 7:
            return f"Order No. {self._digits(rng, rng.randrange(5, 9))}"
        if kind == 8:
            return f"REF: {caps(1)}{self._digits(rng, 1)}-{self._digits(rng, 3)}"
        return self._digits(rng, rng.randrange(4, 13))

    def emails(self, rng: Rng) -> str:
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        forms = (
            f"{first}.{last}",
            f"{first[0]}{last}",
            f"{first}_{last}",
            f"{first}{self._digits(rng, 2)}",
            last,
        )
        user = rng.choice(forms)
        domain = self._word(rng) if rng.random() < 0.7 else f"{self._word(rng)}-{self._word(rng)}"
        return f"{user}@{domain.lower()}.{rng.choice(TLDS)}"

    def addresses(self, rng: Rng) -> str:
        street = f"{self._word(rng).capitalize()} {rng.choice(STREET_SUFFIXES)}"
        number = str(rng.randrange(1, 9999))
        kind = rng.random()
        if kind < 0.45:
            return f"{number} {street}"
        if kind < 0.6:
            return f"{number} {street}, Apt {rng.randrange(1, 40)}{'ABCD'[rng.randrange(4)]}"
        if kind < 0.85:
            city = self._word(rng).capitalize() + ("ville" if rng.random() < 0.3 else "")
            return f"{city}, {rng.choice(STATES)} {self._digits(rng, 5)}"
        return f"P.O. Box {rng.randrange(1, 9999)}"

    def random(self, rng: Rng) -> str:
        count = rng.randrange(1, 16)
        text = "".join(rng.choices(self._random_chars, cum_weights=self._random_cdf, k=count))
        return text.strip() or self._random_chars[0]

    def generators(self) -> dict[str, Callable[[Rng], str]]:
        """Source name -> generator, in `TEXT_SOURCES` order."""
        table = {"words": self.words_source}
        return {name: table.get(name) or getattr(self, name) for name in TEXT_SOURCES}


def _random_char_table(charset: Charset) -> tuple[str, list[float]]:
    """Characters of the charset with sampling weights: letters and digits 1, space 0.5, others 0.15."""
    chars = [c for c in charset.chars]
    chars.sort(key=lambda c: c == " ")  # a non-space character first: the fallback for an all-space draw
    weights = [1.0 if c.isalnum() else 0.5 if c == " " else 0.15 for c in chars]
    return "".join(chars), list(itertools.accumulate(weights))


class TextSampler:
    """Draws line texts from the weighted sources, filtered to the characters a line may show.

    Args:
        config: Source weights and length limits.
        charset: The characters labels may hold.
    """

    MAX_TRIES = 20

    def __init__(self, config: SyntheticDataConfig, charset: Charset) -> None:
        self.config = config
        self.charset = charset
        self.sources = TextSources(charset)
        self._generators = self.sources.generators()
        self._charset_chars = frozenset(charset.chars)
        self.source_probabilities = self._effective_probabilities()
        self._names = [n for n, p in self.source_probabilities.items() if p > 0]
        self._cdf = list(itertools.accumulate(self.source_probabilities[n] for n in self._names))

    def _effective_probabilities(self) -> dict[str, float]:
        """Configured weights scaled by how much of each source's text survives the charset filter."""
        calibration = random.Random(12345)  # fixed: the same probabilities in every process
        scaled = {}
        for name in TEXT_SOURCES:
            weight = float(self.config.text_source_weights.get(name, 0.0))
            if name == "phrases" and " " not in self._charset_chars:
                weight = 0.0  # without a space, phrases would run their words together
            if weight <= 0:
                scaled[name] = 0.0
                continue
            kept = total = 0
            for _ in range(40):
                raw = self._generators[name](calibration)
                kept += sum(c in self._charset_chars for c in raw)
                total += len(raw)
            coverage = kept / max(total, 1)
            scaled[name] = weight * coverage**2 if coverage >= 0.3 else 0.0
        if sum(scaled.values()) <= 0:
            raise ValueError(
                f"no text source with a positive weight produces text in charset {self.charset.name!r}; "
                "give text_source_weights['random'] a positive weight"
            )
        total = sum(scaled.values())
        return {name: value / total for name, value in scaled.items()}

    def _unit(self, rng: Rng, keep: frozenset[str]) -> str:
        for _ in range(self.MAX_TRIES):
            pick = bisect.bisect_right(self._cdf, rng.random() * self._cdf[-1])
            name = self._names[min(pick, len(self._names) - 1)]
            text = " ".join("".join(c for c in self._generators[name](rng) if c in keep).split())
            if text:
                return text
        text = " ".join("".join(c for c in self.sources.random(rng) if c in keep).split())
        return text or next(iter(sorted(keep - {" "})), "")

    def sample(self, rng: Rng, keep: frozenset[str] | None = None) -> str:
        """One line of text between `min_length` and `max_length` characters.

        Args:
            rng: Source of randomness (the caller seeds it per sample for reproducibility).
            keep: Characters allowed in the text (the charset, narrowed to what the font can draw).
        """
        keep = self._charset_chars if keep is None else keep & self._charset_chars
        if not keep - {" "}:
            raise ValueError(f"no character of charset {self.charset.name!r} can be drawn with this font")
        joiner = " " if " " in keep else ""
        cfg = self.config
        target = cfg.min_length
        if rng.random() < cfg.long_text_ratio:
            target = max(target, rng.randrange(max(1, cfg.max_length // 2), cfg.max_length + 1))
        text = self._unit(rng, keep)
        while len(text) < target:
            text = text + joiner + self._unit(rng, keep)
        if cfg.doubled_letter_ratio and rng.random() < cfg.doubled_letter_ratio:
            text = _double_one(rng, text)
        return _cut(text, cfg.max_length, max(cfg.min_length, 1))


# Narrow characters: the ones whose doubled pairs get fewest output frames (and that CTC collapses first).
NARROW_CHARS = frozenset("lIi1jtfr.:,;'|!-")


def _double_one(rng: Rng, text: str) -> str:
    """`text` with one character written twice (a narrow one most of the time when there is one)."""
    positions = [i for i, ch in enumerate(text) if not ch.isspace()]
    if not positions:
        return text
    narrow = [i for i in positions if text[i] in NARROW_CHARS]
    pool = narrow if narrow and rng.random() < 0.7 else positions
    i = pool[int(rng.random() * len(pool))]
    return text[: i + 1] + text[i:]


def _cut(text: str, max_length: int, min_length: int) -> str:
    """Shorten `text` to `max_length`, preferring a word boundary that keeps at least `min_length`."""
    if len(text) <= max_length:
        return text
    cut = text[:max_length]
    if text[max_length] != " ":
        space = cut.rfind(" ")
        if space >= min_length:
            cut = cut[:space]
    return cut.strip() or text[:max_length]
