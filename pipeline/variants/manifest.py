"""`deploy_manifest.json` in an experiment folder: for every variant, its deployable file (relative to the
folder), the file's format, backend, size and sha256, so `ocrq export` / `ocrq evaluate` and
`--mode evaluate` can find and load any variant from the folder alone, and refuse a file that was cut
short or changed since it was built. Beside the variants, `resize` records the resize rule the model was
trained with (`pipeline.data.resize_rule`), which every variant's inference repeats.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from pipeline.core.atomic import write_text_atomic
from pipeline.data.resize_rule import ResizeRule, ResizeRuleError

MANIFEST = "deploy_manifest.json"
FORMAT = "ocrq-deploy-manifest-1"


class ManifestError(ValueError):
    """The deploy manifest cannot be trusted: not JSON, another format, or a path leaving its folder."""


def read_manifest(experiment_dir: Path) -> dict[str, dict[str, Any]]:
    """Variant -> {artifact (relative path), format, backend}; {} when the folder has no manifest.

    Raises:
        ManifestError: the file is damaged, or an artifact path is absolute outside the experiment
            folder, holds '..' or resolves (through a link) outside it: export and evaluate never read
            other files.
    """
    path = Path(experiment_dir) / MANIFEST
    data = _read_document(path)
    variants = data.get("variants", {})
    if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
        raise ManifestError(f"{path}: 'variants' must map variant names to objects")
    for name, entry in variants.items():
        _check_confined(path, Path(experiment_dir), name, entry.get("artifact"))
    return dict(variants)


def _read_document(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ManifestError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ManifestError(f"{path} has format {found!r}; this ocrq reads {FORMAT}")
    return data


def read_resize_rule(experiment_dir: Path) -> ResizeRule | None:
    """The resize rule recorded for the experiment's variants; None for folders made before it was recorded.

    Raises:
        ManifestError: the manifest is damaged or its rule is incomplete or out of range.
    """
    path = Path(experiment_dir) / MANIFEST
    recorded = _read_document(path).get("resize")
    if recorded is None:
        return None
    if not isinstance(recorded, dict):
        raise ManifestError(f"{path}: 'resize' must be an object")
    try:
        return ResizeRule.from_dict(recorded)
    except ResizeRuleError as error:
        raise ManifestError(f"{path}: {error}") from None


def record_resize_rule(experiment_dir: Path, rule: ResizeRule) -> Path:
    """Record the resize rule every variant of the experiment is fed with (written atomically)."""
    experiment_dir = Path(experiment_dir)
    return _write(experiment_dir, read_manifest(experiment_dir), rule)


def _write(experiment_dir: Path, variants: dict[str, dict[str, Any]], rule: ResizeRule | None) -> Path:
    document: dict[str, Any] = {"format": FORMAT, "variants": variants}
    if rule is not None:
        document["resize"] = rule.to_dict()
    path = experiment_dir / MANIFEST
    write_text_atomic(path, json.dumps(document, indent=2))
    return path


def _check_confined(path: Path, experiment_dir: Path, name: str, artifact: Any) -> None:
    if not isinstance(artifact, str) or not artifact:
        raise ManifestError(f"{path}: variant {name!r} has no artifact path")
    root = experiment_dir.resolve()
    absolute = PurePosixPath(artifact).is_absolute() or PureWindowsPath(artifact).is_absolute()
    # Manifests written before paths were made relative hold absolute ones inside the folder: still fine,
    # also when the folder was copied from another machine (re-based like the store's artifact records).
    if (absolute or PureWindowsPath(artifact).drive) and not resolve_artifact(
        experiment_dir, artifact
    ).resolve().is_relative_to(root):
        raise ManifestError(
            f"{path}: variant {name!r} names absolute path {artifact!r} outside the experiment folder; "
            "artifacts must be inside it"
        )
    if ".." in PurePosixPath(artifact.replace("\\", "/")).parts:
        raise ManifestError(
            f"{path}: variant {name!r} path {artifact!r} leaves the experiment folder ('..' is not allowed)"
        )
    if not resolve_artifact(root, artifact).resolve().is_relative_to(root):
        raise ManifestError(
            f"{path}: variant {name!r} path {artifact!r} resolves outside the experiment folder (a link?)"
        )


def resolve_artifact(experiment_dir: Path, recorded: str) -> Path:
    """The path of a manifest entry's file (recorded relative to the experiment folder; old ones absolute).

    An old absolute path from another machine's home (``.../experiments/<id>/variants/x.onnx``, a home
    copied from a GPU box) is re-based onto ``experiment_dir``, as the store does for its records.
    """
    experiment_dir = Path(experiment_dir)
    path = Path(recorded)
    if not path.is_absolute():
        return experiment_dir / path
    parts = PurePosixPath(recorded.replace("\\", "/")).parts
    for index in range(len(parts) - 2, 0, -1):
        if parts[index] == experiment_dir.name and parts[index - 1] == experiment_dir.parent.name:
            if ".." not in parts[index + 1 :]:
                return experiment_dir.joinpath(*parts[index + 1 :])
    return path


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
    variants[name] = {
        "artifact": relative,
        "format": artifact_format,
        "backend": backend,
        "bytes": Path(artifact).stat().st_size,
        "sha256": file_sha256(Path(artifact)),
    }
    return _write(experiment_dir, variants, read_resize_rule(experiment_dir))


def file_sha256(path: Path) -> str:
    """The sha256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_artifact(path: Path, entry: dict[str, Any], name: str) -> None:
    """Check a variant's file against the size and sha256 its manifest entry recorded (older entries have none).

    Raises:
        ManifestError: the file is shorter or longer than recorded (a full disk, a cut copy) or its
            content changed; deploying it would ship something that was never measured.
    """
    recorded_bytes, recorded_sha = entry.get("bytes"), entry.get("sha256")
    if isinstance(recorded_bytes, int) and path.stat().st_size != recorded_bytes:
        raise ManifestError(
            f"the file of variant {name!r} ({path}) has {path.stat().st_size:,} bytes but {recorded_bytes:,} "
            "were recorded when it was built (truncated or replaced); " + _remedy(path, name)
        )
    if isinstance(recorded_sha, str) and file_sha256(path) != recorded_sha:
        raise ManifestError(
            f"the file of variant {name!r} ({path}) does not match the sha256 recorded when it was built "
            "(altered since); " + _remedy(path, name)
        )


def _remedy(path: Path, name: str) -> str:
    if name == "fp32":  # every variant starts from it: only a new training run makes another
        return "restore it from a backup or train a new baseline with `ocrq run`"
    return (
        f"restore it, or rebuild the variants with `ocrq run --from {_experiment_of(path)} --mode compress`"
    )


def _experiment_of(path: Path) -> str:
    """The short id of the experiment folder holding a variant file (``ID`` when it is not in one)."""
    for folder in Path(path).parents:
        if len(folder.name) == 12 and all(c in "0123456789abcdef" for c in folder.name):
            return folder.name[:8]
    return "ID"
