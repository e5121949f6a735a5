"""Fetch, subset and bundle ocrq's font families from Debian font packages (re-runnable).

    python fonts/build_fonts.py --scratch /tmp/ocrq-fonts        # apt-get download + dpkg -x, then subset

Needs a Debian/Ubuntu machine with `apt-get` (after `apt-get update`) and `dpkg`; the packages are unpacked
into the scratch folder, never installed. Every family is written to `fonts/<Family>/` with its licence
(the package's copyright file, plus the common licence text it refers to), and the whole set is described in
`fonts/families.json` (read by `pipeline.data.fonts`) and `fonts/SOURCES.md` (for people).

Glyphs are subset to the characters an ocrq charset is likely to hold (ASCII, Latin-1, Latin Extended-A,
common punctuation and currency signs) to keep the repository small. Fonts from
other OCR data generators (trdg: Aller, Amatic, Capture it, Lato, Open Sans, Raleway, Roboto, Seaside,
Walkway; SynthTIGER: Ubuntu) are deliberately not bundled, so out-of-distribution checks stay honest.

The DejaVu and Liberation files at the top of `fonts/` predate this script and are kept as they are (not
subset: custom charsets may rely on their wide coverage); they are listed in the manifest with the rest.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

FONT_DIR = Path(__file__).resolve().parent

# Unicode ranges kept by the subsetter.
UNICODE_RANGES = [
    (0x20, 0x7E),
    (0xA0, 0xFF),
    (0x192, 0x192),
    (0x218, 0x21B),
    (0x2C6, 0x2DD),
    (0x2010, 0x2027),
    (0x2030, 0x203A),
    (0x2044, 0x2044),
    (0x20AC, 0x20AC),
    (0x20B9, 0x20BD),
    (0x2116, 0x2116),
    (0x2122, 0x2122),
    (0x2190, 0x2193),
    (0x2212, 0x2212),
]

# kinds: serif, sans, mono, condensed, rounded, light (thin/light styles), bold, italic, handwriting, display.
# (family, Debian package, licence, kinds, [source file name, ...])
FAMILIES: list[tuple[str, str, str, tuple[str, ...], list[str]]] = [
    # serif
    ("Tinos", "fonts-croscore", "Apache-2.0", ("serif", "bold", "italic"),
     ["Tinos-Regular.ttf", "Tinos-Italic.ttf", "Tinos-Bold.ttf"]),
    ("Caladea", "fonts-crosextra-caladea", "Apache-2.0", ("serif", "bold", "italic"),
     ["Caladea-Regular.ttf", "Caladea-Italic.ttf", "Caladea-Bold.ttf"]),
    ("Charis SIL", "fonts-sil-charis", "OFL-1.1", ("serif", "bold", "italic"),
     ["CharisSIL-Regular.ttf", "CharisSIL-Italic.ttf", "CharisSIL-Bold.ttf"]),
    ("EB Garamond", "fonts-ebgaramond", "OFL-1.1", ("serif", "bold", "italic"),
     ["EBGaramond12-Regular.otf", "EBGaramond12-Italic.otf", "EBGaramond12-Bold.otf"]),
    ("Vollkorn", "fonts-vollkorn", "OFL-1.1", ("serif", "bold", "italic"),
     ["Vollkorn-Regular.ttf", "Vollkorn-Italic.ttf", "Vollkorn-Bold.ttf"]),
    ("Linux Libertine", "fonts-linuxlibertine", "OFL-1.1 / GPL-2+ with font exception", ("serif", "italic"),
     ["LinLibertine_R.otf", "LinLibertine_RI.otf"]),
    ("Old Standard", "fonts-oldstandard", "OFL-1.0", ("serif", "italic", "bold"),
     ["OldStandard-Regular.ttf", "OldStandard-Italic.ttf", "OldStandard-Bold.ttf"]),
    ("Yrsa", "fonts-yrsa-rasa", "OFL-1.1", ("serif", "light", "italic", "bold"),
     ["Yrsa-Light.ttf", "Yrsa-Regular.ttf", "Yrsa-Bold.ttf"]),
    ("Noto Serif", "fonts-noto-core", "OFL-1.1", ("serif", "bold", "italic"),
     ["NotoSerif-Regular.ttf", "NotoSerif-Italic.ttf", "NotoSerif-Bold.ttf"]),
    ("PT Serif", "fonts-paratype", "ParaType Free Font License", ("serif", "italic", "bold"),
     ["PTF55F.ttf", "PTF56F.ttf", "PTF75F.ttf"]),
    ("Roboto Slab", "fonts-roboto-slab", "Apache-2.0", ("serif", "light", "bold"),
     ["RobotoSlab-Thin.otf", "RobotoSlab-Regular.otf", "RobotoSlab-Bold.otf"]),
    ("Cardo", "fonts-cardo", "OFL-1.1", ("serif", "italic", "bold"), ["Cardo104s.ttf", "Cardoi99.ttf", "Cardob101.ttf"]),
    ("Fanwood", "fonts-fanwood", "OFL-1.1", ("serif", "italic"),
     ["FanwoodText.otf", "FanwoodText-Italic.otf"]),
    ("Baskervald ADF", "fonts-adf-baskervald", "GPL-2+ with font exception", ("serif", "italic", "bold"),
     ["BaskervaldADFStd.otf", "BaskervaldADFStd-Italic.otf", "BaskervaldADFStd-Heavy.otf"]),
    ("FreeSerif", "fonts-freefont-ttf", "GPL-3+ with font exception", ("serif", "italic", "bold"),
     ["FreeSerif.ttf", "FreeSerifItalic.ttf", "FreeSerifBold.ttf"]),
    ("Essays 1743", "fonts-essays1743", "OFL-1.1 or LGPL-2.1", ("serif", "display", "italic"),
     ["Essays1743.ttf", "Essays1743-Italic.ttf"]),
    ("Goudy Bookletter 1911", "fonts-goudybookletter", "public domain", ("serif", "display"),
     ["GoudyBookletter1911.otf"]),
    # sans
    ("Arimo", "fonts-croscore", "Apache-2.0", ("sans", "bold", "italic"),
     ["Arimo-Regular.ttf", "Arimo-Italic.ttf", "Arimo-Bold.ttf"]),
    ("Carlito", "fonts-crosextra-carlito", "OFL-1.1", ("sans", "bold", "italic"),
     ["Carlito-Regular.ttf", "Carlito-Italic.ttf", "Carlito-Bold.ttf"]),
    ("Noto Sans", "fonts-noto-core", "OFL-1.1", ("sans", "bold", "italic"),
     ["NotoSans-Regular.ttf", "NotoSans-Italic.ttf", "NotoSans-Bold.ttf"]),
    ("Cabin", "fonts-cabin", "OFL-1.1", ("sans", "bold", "italic"),
     ["Cabin-Regular.otf", "Cabin-Italic.otf", "Cabin-Bold.otf"]),
    ("Karla", "fonts-karla", "OFL-1.1", ("sans", "light", "italic", "bold"),
     ["Karla-ExtraLight.otf", "Karla-Regular.otf", "Karla-Italic.otf"]),
    ("Cantarell", "fonts-cantarell", "OFL-1.1", ("sans", "light", "bold"),
     ["Cantarell-Thin.otf", "Cantarell-Regular.otf", "Cantarell-Bold.otf"]),
    ("Clear Sans", "fonts-clear-sans", "Apache-2.0", ("sans", "light", "italic", "bold"),
     ["ClearSans-Thin.ttf", "ClearSans-Regular.ttf",
      "ClearSans-Bold.ttf"]),
    ("Inter", "fonts-inter", "OFL-1.1", ("sans", "light", "italic", "bold"),
     ["Inter-Thin.otf", "Inter-ThinItalic.otf", "Inter-Italic.otf",
      "Inter-Bold.otf"]),
    ("Manrope", "fonts-manrope", "OFL-1.1", ("sans", "light", "bold"),
     ["Manrope-ExtraLight.ttf", "Manrope-Regular.ttf", "Manrope-Bold.ttf"]),
    ("Sora", "fonts-sora", "OFL-1.1", ("sans", "light", "bold"),
     ["Sora-Thin.otf", "Sora-Regular.otf", "Sora-ExtraBold.otf"]),
    ("Go", "fonts-go", "BSD-3-clause", ("sans", "italic", "bold"),
     ["Go-Regular.ttf", "Go-Italic.ttf", "Go-Bold.ttf"]),
    ("PT Sans", "fonts-paratype", "ParaType Free Font License", ("sans", "condensed", "italic", "bold"),
     ["PTS55F.ttf", "PTS75F.ttf", "PTN57F.ttf", "PTN77F.ttf"]),
    ("Oxygen", "fonts-oxygen", "OFL-1.1", ("sans", "bold"), ["Oxygen-Sans.ttf", "Oxygen-Sans-Bold.ttf"]),
    ("FreeSans", "fonts-freefont-ttf", "GPL-3+ with font exception", ("sans", "italic", "bold"),
     ["FreeSans.ttf", "FreeSansOblique.ttf", "FreeSansBold.ttf"]),
    ("Tuffy", "fonts-tuffy", "public domain", ("sans", "italic", "bold"),
     ["Tuffy.ttf", "Tuffy_Italic.ttf", "Tuffy_Bold.ttf"]),
    ("B612", "fonts-b612", "OFL-1.1", ("sans", "italic", "bold"),
     ["B612-Regular.otf", "B612-Italic.otf", "B612-Bold.otf"]),
    ("Linux Biolinum", "fonts-linuxlibertine", "OFL-1.1 / GPL-2+ with font exception", ("sans", "italic"),
     ["LinBiolinum_R.otf", "LinBiolinum_RI.otf"]),
    ("League Spartan", "fonts-league-spartan", "OFL-1.1", ("sans", "light", "bold", "display"),
     ["LeagueSpartan-ExtraLight.otf", "LeagueSpartan-Regular.otf", "LeagueSpartan-Black.otf"]),
    ("Tiresias Infofont", "fonts-tiresias", "GPL-3+ with font exception", ("sans", "italic", "bold"),
     ["tiresias_infofont.ttf", "tiresias_infofont_italic.ttf", "tiresias_infofont_bold.ttf"]),
    ("Junction", "fonts-junction", "OFL-1.1", ("sans",), ["Junction.otf"]),
    # condensed
    ("Gillius ADF", "fonts-adf-gillius", "GPL-2+ with font exception", ("sans", "condensed", "italic", "bold"),
     ["GilliusADF-Regular.otf", "GilliusADF-Cond.otf", "GilliusADF-CondItalic.otf", "GilliusADF-BoldCond.otf"]),
    ("Yanone Kaffeesatz", "fonts-yanone-kaffeesatz", "OFL-1.1", ("condensed", "light", "bold", "display"),
     ["YanoneKaffeesatz-ExtraLight.otf", "YanoneKaffeesatz-Regular.otf",
      "YanoneKaffeesatz-Bold.otf"]),
    ("OSP-DIN", "fonts-opendin", "OFL-1.1", ("condensed", "sans", "display"), ["OSP-DIN.ttf"]),
    # mono
    ("Cousine", "fonts-croscore", "Apache-2.0", ("mono", "italic", "bold"),
     ["Cousine-Regular.ttf", "Cousine-Italic.ttf", "Cousine-Bold.ttf"]),
    ("Hack", "fonts-hack", "MIT and Bitstream Vera", ("mono", "italic", "bold"),
     ["Hack-Regular.ttf", "Hack-Italic.ttf", "Hack-Bold.ttf"]),
    ("JetBrains Mono", "fonts-jetbrains-mono", "OFL-1.1", ("mono", "light", "italic", "bold"),
     ["JetBrainsMono-Thin.ttf", "JetBrainsMono-Regular.ttf",
      "JetBrainsMono-Italic.ttf", "JetBrainsMono-Bold.ttf"]),
    ("Fira Code", "fonts-firacode", "OFL-1.1", ("mono", "light", "bold"),
     ["FiraCode-Light.ttf", "FiraCode-Regular.ttf", "FiraCode-Bold.ttf"]),
    ("Inconsolata", "fonts-inconsolata", "OFL-1.0", ("mono",), ["Inconsolata.otf"]),
    ("Anonymous Pro", "fonts-anonymous-pro", "OFL-1.1", ("mono", "italic", "bold"),
     ["Anonymous Pro.ttf", "Anonymous Pro I.ttf", "Anonymous Pro B.ttf"]),
    ("Courier Prime", "fonts-courier-prime", "OFL-1.1", ("mono", "italic", "bold"),
     ["Courier Prime.otf", "Courier Prime Italic.otf", "Courier Prime Bold.otf"]),
    ("Mononoki", "fonts-mononoki", "OFL-1.1", ("mono", "italic", "bold"),
     ["mononoki-Regular.ttf", "mononoki-Italic.ttf", "mononoki-Bold.ttf"]),
    ("Go Mono", "fonts-go", "BSD-3-clause", ("mono", "italic", "bold"),
     ["Go-Mono.ttf", "Go-Mono-Italic.ttf", "Go-Mono-Bold.ttf"]),
    ("PT Mono", "fonts-paratype", "ParaType Free Font License", ("mono", "bold"), ["PTM55F.ttf", "PTM75F.ttf"]),
    ("FreeMono", "fonts-freefont-ttf", "GPL-3+ with font exception", ("mono", "light", "italic", "bold"),
     ["FreeMono.ttf", "FreeMonoOblique.ttf", "FreeMonoBold.ttf"]),
    ("Fantasque Sans Mono", "fonts-fantasque-sans", "OFL-1.1", ("mono", "italic", "bold", "handwriting"),
     ["FantasqueSansMono-Regular.ttf", "FantasqueSansMono-Italic.ttf", "FantasqueSansMono-Bold.ttf"]),
    ("League Mono", "fonts-league-mono", "OFL-1.1", ("mono", "condensed", "light", "bold"),
     ["LeagueMono-Regular.otf", "LeagueMono-CondensedThin.otf", "LeagueMono-CondensedBold.otf"]),
    ("OCR-B", "fonts-ocr-b", "public domain", ("mono", "display"), ["OCRB.otf"]),
    ("Tlwg Typewriter", "fonts-tlwg-typewriter-ttf", "GPL-2+ with font exception", ("mono", "italic", "bold"),
     ["TlwgTypewriter.ttf", "TlwgTypewriter-Oblique.ttf", "TlwgTypewriter-Bold.ttf"]),
    ("IBM 3270", "fonts-3270", "OFL-1.1", ("mono", "condensed", "display"),
     ["3270-Regular.ttf", "3270Condensed-Regular.ttf"]),
    # rounded
    ("Comfortaa", "fonts-comfortaa", "OFL-1.1", ("rounded", "light", "bold", "display"),
     ["Comfortaa-Light.ttf", "Comfortaa-Regular.ttf", "Comfortaa-Bold.ttf"]),
    ("Quicksand", "fonts-quicksand", "OFL-1.1", ("rounded", "light", "bold"),
     ["Quicksand-Light.ttf", "Quicksand-Regular.ttf", "Quicksand-Bold.ttf"]),
    ("Dosis", "fonts-dosis", "OFL-1.1", ("rounded", "condensed", "light", "bold"),
     ["Dosis-ExtraLight.otf", "Dosis-Book.otf", "Dosis-Bold.otf"]),
    ("Jura", "fonts-jura", "OFL-1.1 or GPL-3", ("rounded", "light", "bold", "display"),
     ["Jura-Light.otf", "Jura-Regular.otf", "Jura-Bold.otf"]),
    # handwriting-like
    ("Comic Neue", "fonts-comic-neue", "OFL-1.1", ("handwriting", "light", "italic", "bold"),
     ["ComicNeue-Regular.otf", "ComicNeue-Italic.otf", "ComicNeue-Bold.otf"]),
    ("Dancing Script", "fonts-dancingscript", "OFL-1.1", ("handwriting", "bold"),
     ["DancingScript-Regular.otf", "DancingScript-Bold.otf"]),
    ("Kaushan Script", "fonts-kaushanscript", "OFL-1.1", ("handwriting",), ["KaushanScript-Regular.otf"]),
    ("Purisa", "fonts-tlwg-purisa-ttf", "GPL-2+ with font exception", ("handwriting", "italic", "bold"),
     ["Purisa.ttf", "Purisa-Oblique.ttf", "Purisa-Bold.ttf"]),
    ("Rufscript", "fonts-rufscript", "GPL-3+ with font exception", ("handwriting",), ["Rufscript010.ttf"]),
    ("Breip", "fonts-breip", "OFL-1.0", ("handwriting",), ["Breip.ttf"]),
    # display
    ("Lobster Two", "fonts-lobstertwo", "OFL-1.1", ("display", "handwriting", "italic", "bold"),
     ["LobsterTwo-Regular.otf", "LobsterTwo-Italic.otf", "LobsterTwo-Bold.otf"]),
    ("Leckerli One", "fonts-leckerli-one", "OFL-1.1", ("display", "handwriting"), ["LeckerliOne-Regular.ttf"]),
    ("Cabin Sketch", "fonts-cabinsketch", "OFL-1.1", ("display", "bold"),
     ["CabinSketch-Bold.ttf"]),
    ("Averia", "fonts-averia-gwf", "OFL-1.1", ("display", "light", "italic", "bold"),
     ["AveriaGWF-Regular.ttf", "AveriaGWF-Italic.ttf"]),
    ("Averia Serif", "fonts-averia-serif-gwf", "OFL-1.1", ("display", "serif", "italic"),
     ["AveriaSerifGWF-Regular.ttf"]),
    ("Play", "fonts-play", "OFL-1.1", ("display", "sans", "bold"), ["Play-Regular.ttf", "Play-Bold.ttf"]),
    ("Allerta", "fonts-allerta", "OFL-1.1", ("display", "sans"), ["allerta_medium.otf", "allerta_stencil.otf"]),
    ("Cherry Bomb", "fonts-cherrybomb", "OFL-1.1", ("display", "rounded", "bold"), ["CherryBomb-Regular.otf"]),
    ("RocknRoll One", "fonts-rocknroll", "OFL-1.1", ("display", "rounded"), ["RocknRollOne-Regular.ttf"]),
    ("Linden Hill", "fonts-lindenhill", "OFL-1.1", ("display", "serif", "italic"),
     ["LindenHill.otf", "LindenHill-Italic.otf"]),
]

# Files at the top of fonts/ from before this script (kept whole, not rebuilt).
LEGACY = [
    ("DejaVu Sans", "fonts-dejavu-core", "Bitstream Vera / DejaVu", ("sans", "light", "condensed", "bold"),
     ["DejaVuSans.ttf", "DejaVuSans-ExtraLight.ttf", "DejaVuSansCondensed-Bold.ttf"]),
    ("DejaVu Serif", "fonts-dejavu-core", "Bitstream Vera / DejaVu", ("serif", "condensed", "italic", "bold"),
     ["DejaVuSerif.ttf", "DejaVuSerif-BoldItalic.ttf", "DejaVuSerifCondensed.ttf"]),
    ("DejaVu Sans Mono", "fonts-dejavu-core", "Bitstream Vera / DejaVu", ("mono", "bold"),
     ["DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"]),
    ("Liberation Sans", "fonts-liberation", "OFL-1.1", ("sans", "italic", "bold"),
     ["LiberationSans-Regular.ttf", "LiberationSans-Italic.ttf", "LiberationSans-Bold.ttf"]),
    ("Liberation Serif", "fonts-liberation", "OFL-1.1", ("serif", "italic"),
     ["LiberationSerif-Regular.ttf", "LiberationSerif-Italic.ttf"]),
    ("Liberation Mono", "fonts-liberation", "OFL-1.1", ("mono",), ["LiberationMono-Regular.ttf"]),
]


def slug(family: str) -> str:
    """The folder name of a family: letters and digits only (`EB Garamond` -> `EBGaramond`)."""
    return re.sub(r"[^A-Za-z0-9]", "", family)


def output_name(source: str) -> str:
    """The bundled file name of a source font (no spaces or underscores; unique across the bundle)."""
    stem, suffix = source.rsplit(".", 1)
    return re.sub(r"[ _]+", "-", stem) + "." + suffix.lower()


def unpack(package: str, scratch: Path) -> Path:
    """`apt-get download` and `dpkg -x` one package into `scratch` (once); its root folder."""
    root = scratch / "x" / package
    if root.is_dir():
        return root
    debs = scratch / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{package}_*.deb")):
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
    deb = sorted(debs.glob(f"{package}_*.deb"))[-1]
    root.mkdir(parents=True)
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def licence_text(root: Path, package: str, licence: str) -> str:
    """The package's copyright file, the upstream licence files it ships and the common licence texts it cites
    for the font itself (not those of the Debian packaging only)."""
    doc = root / "usr/share/doc" / package
    parts = [(doc / "copyright").read_text(encoding="utf-8", errors="replace")]
    for extra in sorted(doc.glob("OFL*.txt*")):
        if "FAQ" in extra.name:
            continue
        data = gzip.decompress(extra.read_bytes()) if extra.suffix == ".gz" else extra.read_bytes()
        parts.append(f"\n\n===== {extra.name.removesuffix('.gz')} =====\n\n" + data.decode("utf-8", "replace"))
    for name in sorted(set(re.findall(r"/usr/share/common-licenses/([A-Za-z0-9.+-]+[A-Za-z0-9])", parts[0]))):
        path = Path("/usr/share/common-licenses") / name
        if path.is_file() and name.rstrip("+").split(".")[0] in licence.replace("+", ""):
            parts.append(f"\n\n===== {path} =====\n\n" + path.read_text(encoding="utf-8", errors="replace"))
    return "".join(parts)


def subset_font(source: Path, target: Path) -> None:
    """Keep only the glyphs of `UNICODE_RANGES` (with their kerning), drop hinting and names not needed."""
    from fontTools import subset

    options = subset.Options()
    options.hinting = False
    options.desubroutinize = False
    options.layout_features = ["kern"]  # ocrq lays glyphs out one by one (no ligatures or alternates)
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # copyright, names, version, licence text and URL
    options.notdef_outline = True
    options.recalc_bounds = True
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for low, high in UNICODE_RANGES for c in range(low, high + 1)])
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def find(root: Path, name: str) -> Path:
    """The one file called `name` under `root`."""
    hits = sorted(p for p in root.rglob(name) if p.is_file())
    if not hits:
        raise FileNotFoundError(f"{name} is not in {root}")
    return hits[0]


def write_sources(manifest: dict) -> None:
    """`fonts/SOURCES.md`: one row per family."""
    lines = [
        "# Bundled fonts",
        "",
        "Generated by `python fonts/build_fonts.py` (do not edit by hand). Every family comes from the Debian",
        "package named here, subset to ocrq's character ranges (the legacy DejaVu/Liberation files at the top",
        "of `fonts/` are kept whole); its licence is in the family's folder (`LICENSE.txt`) or, for the legacy",
        "files, in `LICENSE-DejaVu.txt` / `LICENSE-Liberation.txt`. Fonts bundled by other OCR data generators",
        "(trdg, SynthTIGER) are deliberately absent.",
        "",
        f"{len(manifest['families'])} families, {sum(len(f['files']) for f in manifest['families'])} files.",
        "",
        "| family | kinds | Debian package | licence | files |",
        "|---|---|---|---|---|",
    ]
    for fam in manifest["families"]:
        files = ", ".join(Path(f).stem for f in fam["files"])
        lines.append(f"| {fam['family']} | {', '.join(fam['kinds'])} | {fam['package']} | {fam['licence']} | {files} |")
    (FONT_DIR / "SOURCES.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/ocrq-fonts"), help="download folder")
    args = parser.parse_args(argv)
    families = []
    for family, package, licence, kinds, files in LEGACY:
        for name in files:
            if not (FONT_DIR / name).is_file():
                raise FileNotFoundError(f"legacy font {name} is missing from {FONT_DIR}")
        families.append(
            {"family": family, "package": package, "licence": licence, "kinds": list(kinds), "files": files}
        )
    for family, package, licence, kinds, files in FAMILIES:
        root = unpack(package, args.scratch)
        folder = FONT_DIR / slug(family)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        written = []
        for name in files:
            target = folder / output_name(name)
            subset_font(find(root, name), target)
            written.append(f"{folder.name}/{target.name}")
        (folder / "LICENSE.txt").write_text(licence_text(root, package, licence), encoding="utf-8")
        families.append(
            {"family": family, "package": package, "licence": licence, "kinds": list(kinds), "files": written}
        )
        print(f"{family}: {len(written)} files", file=sys.stderr)
    names = [Path(f).name for fam in families for f in fam["files"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SystemExit(f"font file names must be unique; duplicated: {duplicates}")
    manifest = {"families": families}
    (FONT_DIR / "families.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    write_sources(manifest)
    total = sum((FONT_DIR / f).stat().st_size for fam in families for f in fam["files"])
    print(f"{len(families)} families, {len(names)} files, {total / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
