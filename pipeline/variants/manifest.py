"""`deploy_manifest.json` in an experiment folder: for every variant, its deployable file (relative to the
folder), the file's format and backend, so `ocrq export` / `ocrq evaluate` and `--mode evaluate` can find
and load any variant from the folder alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.core.atomic import write_text_atomic

MANIFEST = "deploy_manifest.json"
FORMAT = "ocrq-deploy-manifest-1"


def read_manifest(experiment_dir: Path) -> dict[str, dict[str, Any]]:
    """Variant -> {artifact (relative path), format, backend}; {} when the folder has no manifest."""
    path = Path(experiment_dir) / MANIFEST
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} has format {data.get('format')!r}; this ocrq reads {FORMAT}")
    return dict(data.get("variants", {}))


def resolve_artifact(experiment_dir: Path, recorded: str) -> Path:
    """The path of a manifest entry's file (recorded relative to the experiment folder; old ones absolute)."""
    path = Path(recorded)
    return path if path.is_absolute() else Path(experiment_dir) / path


def record_variant(
    experiment_dir: Path, name: str, artifact: Path, artifact_format: str, backend: str
) -> Path:
    """Add or replace one variant's entry (written atomically: temp file + replace)."""
    experiment_dir = Path(experiment_dir)
    variants = read_manifest(experiment_dir)
    try:
        relative = str(Path(artifact).resolve().relative_to(experiment_dir.resolve()))
    except ValueError:
        relative = str(Path(artifact).resolve())
    variants[name] = {"artifact": relative, "format": artifact_format, "backend": backend}
    path = experiment_dir / MANIFEST
    write_text_atomic(path, json.dumps({"format": FORMAT, "variants": variants}, indent=2))
    return path
