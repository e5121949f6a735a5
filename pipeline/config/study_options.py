"""The choices of `ocrq study run` that the CLI, the TUI's study form and `pipeline.study` share.

Torch- and Optuna-free, so the TUI validates a study launch with the same lists and messages.
"""

from __future__ import annotations

import re

from pipeline.config.fields import ConfigError

# The seed's weighted targets: (accuracy, compression, speed).
TARGET_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "balanced": (0.6, 0.2, 0.2),
    "accuracy": (0.8, 0.1, 0.1),
    "compression": (0.3, 0.6, 0.1),
    "speed": (0.3, 0.1, 0.6),
}
METHODS = ("bayesian", "grid_search", "random_search", "nsga2")
METHOD_ALIASES = {"random": "random_search", "grid": "grid_search", "tpe": "bayesian"}
PRUNERS = ("median", "hyperband", "none")
# A study's name is a folder of the ocrq home and a journal's name: no separators, no dots first.
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")


def check_study_name(name: str) -> str:
    """The name; ConfigError saying what a study name may hold for anything else."""
    if not STUDY_NAME.match(name):
        shown = name.encode("unicode_escape").decode("ascii")
        raise ConfigError(f"--study-name '{shown}' is not allowed; use up to 80 letters, digits, _ . -")
    return name


def check_study_options(
    method: str, target: str, pruner: str = "median", n_trials: int = 1, jobs: int = 1
) -> str:
    """The canonical method; ConfigError naming the flag and what is allowed for anything else."""
    method = METHOD_ALIASES.get(method, method)
    if method not in METHODS:
        raise ConfigError(f"--method '{method}' is not known; allowed {', '.join(METHODS)}")
    if target not in TARGET_WEIGHTS:
        raise ConfigError(
            f"--optimization-target '{target}' is not known; allowed {', '.join(TARGET_WEIGHTS)}"
        )
    if pruner not in PRUNERS:
        raise ConfigError(f"--pruner '{pruner}' is not known; allowed {', '.join(PRUNERS)}")
    if n_trials < 1:
        raise ConfigError(f"--n-trials {n_trials} is not allowed; give 1 or more")
    if not 1 <= jobs <= 64:
        raise ConfigError(f"--jobs {jobs} is not allowed; give 1..64 worker processes")
    return method
