"""Checkpoints: everything a resumed run needs, loaded with `weights_only=True`."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.core.exceptions import cause_of_type


def rng_state() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": _numpy_state_as_lists(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state_as_lists() -> list[Any]:
    # Plain lists load under weights_only=True without allow-listing numpy internals.
    name, keys, position, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), int(position), int(has_gauss), float(cached)]


def set_rng_state(state: dict[str, Any]) -> None:
    python_state = state["python"]
    random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state[0], np.asarray(numpy_state[1], dtype=np.uint32), *numpy_state[2:]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> int:
    """Write atomically (temp + replace) so a killed run never leaves half a checkpoint. Returns bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        # Our own handle, closed when the write fails: torch's writer, kept alive by the exception's
        # traceback, would hold the file open, and an unlinked open file keeps its disk space.
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)
        os.replace(tmp, path)
    except BaseException as error:
        # A full disk (or a Ctrl-C mid-write) must not leave megabytes of half a checkpoint behind;
        # removing it also frees the space the run needs to record that it failed.
        tmp.unlink(missing_ok=True)
        written = cause_of_type(error, OSError)
        if written is not None and written is not error:
            # torch reports a failed write as "enforce fail ... unexpected pos"; say what happened.
            raise OSError(written.errno, written.strerror, str(tmp)) from error
        raise
    return path.stat().st_size


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by ocrq (tensors and plain Python values only)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint '{path}' does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)
