"""Key-value metadata (`metadata_props`) of an ONNX file: what a deployed model needs to be fed right.

ONNX Runtime exposes these entries to any runtime (`session.get_modelmeta().custom_metadata_map`), so a
user who only has the .onnx file can still read how its inputs were prepared.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from pipeline.core.atomic import write_bytes_atomic


class OnnxMetadataError(ValueError):
    """The file is not an ONNX model, so it has no metadata to read."""


def read_onnx_metadata(path: Path) -> dict[str, str]:
    """All `metadata_props` of an ONNX file (weights are not read).

    Raises:
        OnnxMetadataError: the file does not parse as an ONNX model.
    """
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001  (protobuf raises DecodeError and others for a foreign file)
        raise OnnxMetadataError(f"{path} is not an ONNX model ({type(error).__name__})") from None
    return {prop.key: prop.value for prop in model.metadata_props}


def write_onnx_metadata(path: Path, entries: dict[str, str]) -> None:
    """Add or replace `entries` in an ONNX file's `metadata_props`, keeping the others; written atomically."""
    model = onnx.load(str(path))
    kept = {prop.key: prop.value for prop in model.metadata_props if prop.key not in entries}
    del model.metadata_props[:]
    for key, value in {**kept, **entries}.items():
        model.metadata_props.add(key=key, value=value)
    write_bytes_atomic(Path(path), model.SerializeToString())
