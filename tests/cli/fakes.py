"""Experiments on disk for CLI tests, made without training: a store record, a deploy manifest and files."""

from __future__ import annotations

import json
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

from store import Store, records

EXP_ID = "abcd00000001"


def fake_experiment(
    store: Store, *, name: str = "base", status: str = "finished", exp_id: str = "abcd00000001"
) -> tuple[str, Path]:
    """A finished-looking experiment: variants fp32 and ort-fp32, a zip `model_fp32.pt` (not loadable)."""
    from pipeline.config import resolve_config

    config = resolve_config("smoke").to_dict()
    store.create_experiment(
        name=name, template="smoke", config=config, model="crnn_tiny", experiment_id=exp_id
    )
    folder = store.experiment_dir(exp_id)
    (folder / "variants").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "model_fp32.pt", "w") as archive:
        archive.writestr("archive/data.pkl", b"not really a model")
    (folder / "variants" / "ort-fp32.onnx").write_bytes(b"ONNX BYTES")
    write_manifest(folder, {"fp32": "model_fp32.pt", "ort-fp32": "variants/ort-fp32.onnx"})
    for variant in ("fp32", "ort-fp32"):
        store.record_variant(exp_id, {"name": variant})
    store.set_status(exp_id, status)
    return exp_id, folder


def write_manifest(folder: Path, artifacts: dict[str, str]) -> None:
    variants = {
        name: {"artifact": path, "format": "onnx" if path.endswith(".onnx") else "torch-fp32", "backend": "x"}
        for name, path in artifacts.items()
    }
    (folder / "deploy_manifest.json").write_text(
        json.dumps({"format": "ocrq-deploy-manifest-1", "variants": variants})
    )


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims `width` x `height` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def moved_home(tmp_path: Path, *, old_absolute: bool) -> Path:
    """A home with one experiment and its files, moved to another path (the old one is gone)."""
    from tests.tui.store_fixtures import write_figure

    first = tmp_path / "gpu-box" / "ocrq"
    store = Store(first)
    exp_id, folder = fake_experiment(store, exp_id=EXP_ID)
    figure = folder / "accuracy_vs_size.png"
    write_figure(figure)
    files = [("figure", None, figure), ("onnx", "ort-fp32", folder / "variants" / "ort-fp32.onnx")]
    for kind, variant, path in files:
        size = path.stat().st_size
        if old_absolute:  # what runs recorded before paths were stored relative
            record = {"kind": kind, "path": str(path), "bytes": size, "variant": variant, "time": "t"}
            records.upsert_record(folder, "artifacts", record, "path")
        else:
            store.record_artifact(exp_id, kind=kind, path=str(path), bytes=size, variant=variant)
    if old_absolute:
        write_manifest(folder, {"fp32": str(folder / "model_fp32.pt"), "ort-fp32": str(files[1][2])})
    moved = tmp_path / "laptop" / "synced-home"
    moved.parent.mkdir()
    shutil.move(str(first), moved)
    return moved
