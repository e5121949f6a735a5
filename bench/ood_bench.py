"""Out-of-distribution check: a trained experiment on lines ocrq's renderer did not make.

Run:
    python bench/ood_bench.py EXPERIMENT [--variant fp32] [--lines 300] [--keep DIR]
    python bench/ood_bench.py --render-only DIR [--lines 60]      # just write the OOD lines and a sheet

Prints CER / EM side by side for:
- in-distribution: ocrq's synthetic test lines in the training fonts;
- held-out families: ocrq's synthetic lines in the families the config holds out;
- OOD held-out families: lines drawn by matplotlib's Agg rasterizer (not ocrq's renderer, layout or
  augmentations) in the held-out families, over colour photo-like backgrounds made here (FFT-smoothed noise
  through matplotlib colour maps, with shapes), cropped loosely or tightly and resized as inference does;
- OOD unseen fonts: the same, in fonts neither bundled nor held out (matplotlib's STIX faces);
and, on the OOD lines, CER of lines with a doubled letter (committee, 10:45:30 -> "11", "00") next to lines
without, and next to their twins: each such line drawn again with its pairs made single (committee ->
comite) in the same font, size, colours, background, rotation and crop. Lines with and without a doubled
letter hold different letters (the pairs sit in words, many lines without are digits), so only the twins
show what the doubling itself costs. Texts come from their own generator (not ocrq's text sources).

Never train on what this bench renders: it measures generalization only while the model has not seen it.
Figures only; it never passes or fails.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import io
import random
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
from fontTools.ttLib import TTFont  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.patches import Circle, Rectangle  # noqa: E402
from PIL import Image  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

COLOUR_MAPS = (
    "viridis",
    "terrain",
    "copper",
    "cool",
    "autumn",
    "twilight",
    "gist_earth",
    "Pastel1",
    "cividis",
)
STIX_FONTS = ("STIXGeneral.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBol.ttf", "STIXGeneralBolIta.ttf")
DOUBLED_WORDS = (
    "committee", "balloon", "coffee", "address", "little", "million", "success", "Mississippi", "bookkeeper",
    "parallel", "illegal", "fill", "all", "Tennessee", "skill", "village", "letter", "apple", "week", "mood",
)  # fmt: skip


def _zen_words() -> list[str]:
    """English words from the Zen of Python (`this`), a word source apart from ocrq's."""
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the Zen
        import this
    text = codecs.decode(this.s, "rot13")
    return sorted({w.strip(".,!*-'") for w in text.split() if w.strip(".,!*-'").isalpha()})


def ood_text(rng: random.Random, words: list[str]) -> str:
    """One line: words, times, prices, dates, codes, doubled-letter words."""
    kind = rng.random()
    if kind < 0.15:
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    if kind < 0.3:
        return f"{rng.choice(['-', '', '$'])}{rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
    if kind < 0.4:
        return f"{rng.randint(1, 31):02d}.{rng.randint(1, 12):02d}.{rng.randint(1990, 2029)}"
    if kind < 0.5:
        return f"{rng.choice(['ID', 'No.', 'Ref'])} {rng.randint(100, 99999)}-{rng.choice('ABCDEFXYZ')}"
    pool = DOUBLED_WORDS if kind < 0.7 else words
    count = rng.randint(1, 4)
    line = " ".join(rng.choice(pool if i == 0 else words) for i in range(count))
    return line.capitalize() if rng.random() < 0.3 else line


def has_doubled_letter(text: str) -> bool:
    return any(a == b and not a.isspace() for a, b in zip(text, text[1:], strict=False))


def single_letters(text: str) -> str:
    """`text` with every run of one repeated character (spaces apart) made single: committee -> comite."""
    return re.sub(r"(\S)\1+", r"\1", text)


def doubled_letter_errors(pairs: list[tuple[str, str]]) -> tuple[int, float, float]:
    """Letters standing in a doubled pair: how many, how often they are misread (deleted or replaced), and
    how often the same letters are misread where they stand alone, weighted as the pairs' letters are.

    Lines with and without a doubled letter differ in which letters they hold (on this bench's texts the
    pairs are mostly s, l, e, o, 0, t, 1), so the second rate is the fair comparison:
    a model that collapses pairs misreads them more often than the same letters alone."""
    doubled: dict[str, list[int]] = {}  # letter -> [seen doubled, misread doubled, seen alone, misread alone]
    for prediction, truth in pairs:
        misread = {op.src_pos for op in Levenshtein.editops(truth, prediction) if op.tag != "insert"}
        for at, letter in enumerate(truth):
            if letter.isspace():
                continue
            paired = truth[at - 1 : at] == letter or truth[at + 1 : at + 2] == letter
            counts = doubled.setdefault(letter, [0, 0, 0, 0])
            counts[0 if paired else 2] += 1
            counts[1 if paired else 3] += at in misread
    seen = sum(c[0] for c in doubled.values())
    misread = sum(c[1] for c in doubled.values())
    expected = sum(c[0] * c[3] / c[2] for c in doubled.values() if c[2])
    weighed = sum(c[0] for c in doubled.values() if c[2])
    return seen, misread / max(1, seen), expected / max(1, weighed)


def collapsed_pairs(pairs: list[tuple[str, str]]) -> tuple[int, int]:
    """Doubled pairs in the labels, and how many the predictions read as one letter (one of the two
    deleted, the other kept as it is): the error a CTC model with too few frames per letter makes."""
    total = collapsed = 0
    for prediction, truth in pairs:
        ops = Levenshtein.editops(truth, prediction)
        deleted = {op.src_pos for op in ops if op.tag == "delete"}
        replaced = {op.src_pos for op in ops if op.tag == "replace"}
        for at in range(len(truth) - 1):
            if truth[at] == truth[at + 1] and not truth[at].isspace():
                total += 1
                collapsed += len({at, at + 1} & deleted) == 1 and not {at, at + 1} & replaced
    return total, collapsed


def _cmap_chars(path: Path) -> set[str]:
    with TTFont(str(path), lazy=True) as font:
        return {chr(c) for c in (font.getBestCmap() or {})}


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A photo-like RGB background: smoothed noise through a colour map, blended with a colour, shapes."""
    noise = rng.standard_normal((height, width))
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]
    scale = rng.uniform(0.01, 0.06)
    smooth = np.real(np.fft.ifft2(np.fft.fft2(noise) * np.exp(-(fx**2 + fy**2) / (2 * scale**2))))
    smooth = (smooth - smooth.min()) / max(float(np.ptp(smooth)), 1e-9)
    rgb = matplotlib.colormaps[rng.choice(COLOUR_MAPS)](smooth)[..., :3]
    base = rng.uniform(0, 1, 3)
    mix = rng.uniform(0.2, 0.8)
    return np.clip(mix * rgb + (1 - mix) * base, 0, 1)


def render_ood_line(
    text: str, font: Path, rng: np.random.Generator, layout_text: str | None = None
) -> Image.Image:
    """`text` drawn by matplotlib's Agg rasterizer over a photo-like background, cropped around the text.

    The canvas is sized for `layout_text` (default `text`): a twin drawn from a copy of `rng` with the
    original's `layout_text` gets the same background, colours, rotation and margins, only other text."""
    size_px = rng.uniform(18, 48)
    width = int(size_px * (len(layout_text or text) * 0.75 + 4))
    height = int(size_px * 3)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    background = _background(rng, height, width)
    fig.figimage(background, 0, 0)
    for _ in range(int(rng.integers(0, 4))):  # shapes behind the text (signs, objects)
        colour = tuple(rng.uniform(0, 1, 3))
        if rng.random() < 0.5:
            patch = Circle(
                (rng.uniform(0, 1), rng.uniform(0, 1)), rng.uniform(0.05, 0.3), color=colour, alpha=0.5
            )
        else:
            patch = Rectangle((rng.uniform(0, 1), rng.uniform(0, 1)), 0.3, 0.5, color=colour, alpha=0.5)
        fig.add_artist(patch)
    luma = float(np.mean(background @ np.array([0.299, 0.587, 0.114])))
    target = rng.uniform(0, 0.25) if luma > 0.5 else rng.uniform(0.8, 1.0)
    hue = rng.uniform(0, 1, 3)
    colour = np.clip(hue * target / max(float(hue @ np.array([0.299, 0.587, 0.114])), 1e-3), 0, 1)
    if target > 0.5:
        colour = np.clip(1 - (1 - hue) * (1 - target) / 0.5, 0, 1)
    artist = fig.text(
        0.5,
        0.5,
        text,
        fontproperties=FontProperties(fname=str(font), size=size_px * 72 / 100),
        color=tuple(colour),
        ha="center",
        va="center",
        rotation=float(rng.normal(0, 1.0)),
        parse_math=False,
    )
    canvas.draw()
    box = artist.get_window_extent(renderer=canvas.get_renderer())
    pixels = np.asarray(canvas.buffer_rgba())[..., :3]
    tight = rng.random() < 0.4
    margin_y = rng.uniform(-0.05, 0.02) if tight else rng.uniform(0.05, 0.4)
    margin_x = rng.uniform(0.0, 1.0)
    y0 = int(height - box.y1 - margin_y * box.height)
    y1 = int(height - box.y0 + margin_y * box.height)
    x0 = int(box.x0 - margin_x * box.height)
    x1 = int(box.x1 + margin_x * box.height)
    crop = pixels[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    return Image.fromarray(np.ascontiguousarray(crop), "RGB")


def write_ood_set(folder: Path, fonts: list[Path], lines: int, seed: int, charset_chars: set[str]) -> Path:
    """Render `lines` OOD lines into `folder` with a PaddleOCR `labels.txt`; its path.

    Each line with a doubled letter also gets its twin (pairs made single, drawn alike) in `twins/`, with a
    `labels.txt` of its own naming the same image numbers."""
    (folder / "twins").mkdir(parents=True, exist_ok=True)
    rng, words = random.Random(seed), _zen_words()
    np_rng = np.random.default_rng(seed)
    coverage = {font: _cmap_chars(font) for font in fonts}
    rows, twin_rows = [], []
    for index in range(lines):
        font = fonts[index % len(fonts)]
        text = ood_text(rng, words)
        text = "".join(ch for ch in text if ch in coverage[font] and ch in charset_chars).strip() or "ok"
        name = f"{index:05d}.png"
        if has_doubled_letter(text):  # a copy of the generator before the line draws it alike
            twin_rng = np.random.default_rng()
            twin_rng.bit_generator.state = np_rng.bit_generator.state
            twin = single_letters(text)
            render_ood_line(twin, font, twin_rng, layout_text=text).save(folder / "twins" / name)
            twin_rows.append(f"{name}\t{twin}")
        render_ood_line(text, font, np_rng).save(folder / name)
        rows.append(f"{name}\t{text}")
    (folder / "labels.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "twins" / "labels.txt").write_text("\n".join(twin_rows) + "\n", encoding="utf-8")
    return folder / "labels.txt"


def _scores(predictions: list[str], labels: list[str]) -> tuple[float, float, int]:
    edits = sum(Levenshtein.distance(p, t) for p, t in zip(predictions, labels, strict=True))
    chars = max(1, sum(len(t) for t in labels))
    exact = sum(p == t for p, t in zip(predictions, labels, strict=True))
    return edits / chars, exact / max(1, len(labels)), len(labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", nargs="?", help="experiment id, prefix or name (ocrq list)")
    parser.add_argument("--variant", default="fp32")
    parser.add_argument("--lines", type=int, default=300, help="lines per set")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--keep", type=Path, help="write the OOD lines here (default: a temporary folder)")
    parser.add_argument("--render-only", type=Path, help="only write the OOD lines (and sheet.png) here")
    args = parser.parse_args(argv)

    import torch

    from pipeline.config import config_from_dict, resolve_config
    from pipeline.core.charset import Charset
    from pipeline.data.fonts import resolve_font_pools
    from pipeline.data.loader import make_loader
    from pipeline.data.real_sources import open_real_dataset
    from pipeline.data.synthetic import SyntheticLineDataset
    from pipeline.evaluation.predict import predict

    torch.set_num_threads(1)
    stix_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    unseen_fonts = [stix_dir / name for name in STIX_FONTS]

    if args.render_only:
        config = resolve_config("quickstart")
        charset = Charset.from_spec(config.model.charset)
        held = list(resolve_font_pools(config.synthetic, charset).held_out)
        for name, fonts in (("held_out_families", held), ("unseen_fonts", unseen_fonts)):
            labels = write_ood_set(args.render_only / name, fonts, args.lines, args.seed, set(charset.chars))
            images = [
                Image.open(labels.parent / line.split("\t")[0])
                for line in labels.read_text().splitlines()[:24]
            ]
            sheet = Image.new("RGB", (900, sum(min(60, i.height) + 4 for i in images)), "white")
            y = 0
            for image in images:
                image.thumbnail((900, 60))
                sheet.paste(image, (0, y))
                y += image.height + 4
            sheet.save(args.render_only / f"{name}-sheet.png")
            print(f"{labels} ({args.lines} lines)")
        return 0
    if not args.experiment:
        parser.error("name an experiment, or use --render-only DIR")

    from cli.resolve import resolve
    from pipeline.variants.load import load_recognizer
    from pipeline.variants.resize import stored_resize_rule
    from store import Store

    store = Store()
    exp_id = resolve(store, args.experiment)
    experiment = store.get(exp_id)
    config = config_from_dict(experiment["config"])
    charset = Charset.from_spec(config.model.charset)
    recognizer = load_recognizer(store.experiment_dir(exp_id), args.variant, threads=1)
    # the OOD lines are resized by the rule recorded with the model, as any deployment would
    rule = stored_resize_rule(store.experiment_dir(exp_id), config, recognizer.width_multiple)
    held = list(resolve_font_pools(config.synthetic, charset).held_out)

    def run(dataset) -> tuple[list[str], list[str]]:
        loader = make_loader(
            dataset,
            32,
            charset=charset,
            width_multiple=recognizer.width_multiple,
            shuffle=False,
            num_workers=0,
        )
        result = predict(recognizer, loader, charset, torch.device("cpu"), compute_loss=False)
        return result.predictions, result.labels

    rows = []
    for name, pool in (
        ("in-distribution (ocrq, train fonts)", "train"),
        ("held-out families (ocrq)", "held_out"),
    ):
        dataset = SyntheticLineDataset(
            config.synthetic, config.augment, charset, args.lines, seed=config.train.seed + 303, split="test",
            font_pool=pool,
        )  # fmt: skip
        rows.append((name, *_scores(*run(dataset))))
    doubled: list[tuple[str, str]] = []
    plain: list[tuple[str, str]] = []
    twins: list[tuple[str, str]] = []

    def open_lines(labels_file: Path):
        return open_real_dataset(
            labels_file, charset, image_height=rule.image_height,
            max_image_width=config.synthetic.max_image_width, width_scale=rule.width_scale,
        ).dataset  # fmt: skip

    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        for name, fonts in (
            ("OOD held-out families (matplotlib)", held),
            ("OOD unseen fonts (matplotlib STIX)", unseen_fonts),
        ):
            labels_file = write_ood_set(
                root / name.split(" (")[0].replace(" ", "_"), fonts, args.lines, args.seed, set(charset.chars)
            )
            predictions, labels = run(open_lines(labels_file))
            rows.append((name, *_scores(predictions, labels)))
            for p, t in zip(predictions, labels, strict=True):
                (doubled if has_doubled_letter(t) else plain).append((p, t))
            twins.extend(zip(*run(open_lines(labels_file.parent / "twins" / "labels.txt")), strict=True))
    print(f"experiment {exp_id} variant {args.variant}: {experiment['config'].get('model')}")
    print(f"{'set':44} {'lines':>6} {'CER %':>7} {'EM %':>7}")
    for name, cer, em, count in rows:
        print(f"{name:44} {count:6d} {100 * cer:7.2f} {100 * em:7.2f}")
    for name, pairs in (
        ("OOD lines with a doubled letter", doubled),
        ("OOD lines without", plain),
        ("the doubled-letter lines, pairs made single", twins),
    ):
        if pairs:
            cer, em, count = _scores([p for p, _ in pairs], [t for _, t in pairs])
            print(f"{name:44} {count:6d} {100 * cer:7.2f} {100 * em:7.2f}")
    letters, paired_rate, alone_rate = doubled_letter_errors(doubled + plain)
    if letters:
        print(
            f"OOD letters in doubled pairs ({letters}): {100 * paired_rate:.2f}% misread, against "
            f"{100 * alone_rate:.2f}% for the same letters standing alone"
        )
    total, collapsed = collapsed_pairs(doubled)
    if total:
        print(
            f"OOD doubled pairs read as one letter: {collapsed} of {total} ({100 * collapsed / total:.2f}%)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
