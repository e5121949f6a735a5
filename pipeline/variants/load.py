"""Find and load any variant of an experiment folder again, from the folder alone (its deploy manifest)."""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.variants.manifest import read_manifest, resolve_artifact, verify_artifact


def deployable_artifact(experiment_dir: Path, variant: str) -> Path:
    """The file a user deploys for `variant` of an experiment folder (from its deploy manifest).

    Raises:
        FileNotFoundError: when the experiment has no such variant or its file is gone.
        ManifestError: the manifest is damaged, or the file's size or sha256 is not the recorded one.
    """
    experiment_dir = Path(experiment_dir)
    manifest = read_manifest(experiment_dir)
    if variant == "fp32" and "fp32" not in manifest:
        path = experiment_dir / "model_fp32.pt"
    elif variant in manifest:
        path = resolve_artifact(experiment_dir, manifest[variant]["artifact"])
    else:
        known = ", ".join(sorted(manifest)) or "fp32"
        raise FileNotFoundError(
            f"experiment {experiment_dir.name} has no variant {variant!r}; it has {known}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"the file of variant {variant!r} ({path}) is missing")
    if variant in manifest:
        verify_artifact(path, manifest[variant], variant)
    return path


def verify_deployables(experiment_dir: Path, variants: list[str] | None = None) -> None:
    """Check the files of `variants` (default: every variant in the manifest) against their recorded sha256.

    Raises:
        FileNotFoundError: a variant or its file is missing.
        ManifestError: the manifest is damaged or a file is not the one that was built and measured.
    """
    names = list(read_manifest(Path(experiment_dir))) if variants is None else variants
    for name in names:
        deployable_artifact(experiment_dir, name)


def load_recognizer(experiment_dir: Path, variant: str, *, threads: int = 1) -> object:
    """A torch module or `OnnxRecognizer` for any variant, built only from files in the experiment folder."""
    from pipeline.core.checkpoint import load_checkpoint
    from pipeline.models import create_model
    from pipeline.variants.build_basic import CastingRecognizer, onnx_recognizer

    experiment_dir = Path(experiment_dir)
    artifact = deployable_artifact(experiment_dir, variant)
    checkpoint = load_checkpoint(experiment_dir / "model_fp32.pt")
    model = create_model(**checkpoint["model_config"]).eval()
    if artifact.suffix == ".onnx":
        return onnx_recognizer(artifact, model, threads)
    fmt = read_manifest(experiment_dir).get(variant, {}).get("format", "torch-fp32")
    if fmt == "torchao":
        from pipeline.compress.ptq import load_torchao_model

        return load_torchao_model(artifact)
    payload = load_checkpoint(artifact)
    if fmt in ("torch-fp16", "torch-bf16"):
        dtype = torch.float16 if fmt == "torch-fp16" else torch.bfloat16
        wrapped = CastingRecognizer(model, dtype)
        wrapped.model.load_state_dict(payload["weights"])
        return wrapped.eval()
    model.load_state_dict(payload["weights"])
    return model
