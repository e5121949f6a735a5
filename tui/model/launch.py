"""Starting `ocrq run`, `ocrq study run`, `ocrq import`, a resume or an analysis as detached processes,
and stopping a running experiment or study.

Every launch goes through `start`: the command lives in its own session (``start_new_session``), reads
nothing from the terminal and writes its output to ``HOME/launches/<name>.log``, so closing the TUI or
losing the SSH connection does not stop it. The TUI never trains in its own process. Each request is
validated first with the one-line messages the CLI would print; nothing starts for a bad one. No Textual
here (a test checks it).
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import MODES, TEMPLATES, ConfigError, resolve_config
from pipeline.config.import_options import check_import_options
from pipeline.config.study_options import check_study_name, check_study_options
from store import Store, looks_like_ocrq, process_alive, this_host
from store import stop_process as store_stop_process

GRACE_S = 10.0
LAUNCH_DIR = "launches"
# Children this process started, kept so Python does not warn about (or lose) a still-running Popen;
# liveness is the store's `process_alive`, which counts a finished, unreaped child as dead.
_children: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class LaunchRequest:
    """What the launch form asks for: a template plus field overrides written as CLI text.

    Attributes:
        template: a built-in template name.
        overrides: ``{field: text}``, e.g. ``{"qat_epochs": "5", "variants": "ort-fp32,ptq"}``.
        name: the experiment name ("" lets `ocrq run` choose one).
        mode: train, compress, both or evaluate ("" keeps the template's).
        tags: tags to put on the experiment.
    """

    template: str
    overrides: dict[str, str] = field(default_factory=dict)
    name: str = ""
    mode: str = ""
    tags: tuple[str, ...] = ()


def parse_tags(text: str) -> tuple[str, ...]:
    """``"qat, int4 night"`` -> ``("qat", "int4", "night")`` (commas or spaces separate tags)."""
    return tuple(dict.fromkeys(tag for tag in re.split(r"[\s,]+", text) if tag))


def validate_request(request: LaunchRequest) -> Any:
    """Resolve the config the run will use.

    Returns:
        The validated ``ExperimentConfig``.

    Raises:
        ConfigError: with the one-line message `ocrq run` would print for the same arguments.
    """
    if request.mode and request.mode not in MODES:
        raise ConfigError(f"mode={request.mode} is not supported; allowed {', '.join(MODES)}")
    overrides = dict(request.overrides)
    if request.name.strip():
        overrides["name"] = request.name.strip()
    if request.mode:
        overrides["mode"] = request.mode
    return resolve_config(request.template, overrides=overrides)


def run_arguments(request: LaunchRequest, exp_id: str) -> list[str]:
    """The `ocrq` arguments after the global options: ``run TEMPLATE --field=value ... --id ID --json``.

    ``--flag=value`` keeps a value that starts with ``-`` (a negative number) from reading as a flag.
    """
    args = ["run", request.template]
    for key, text in request.overrides.items():
        args.append(f"--{key.replace('_', '-')}={text}")
    if request.name.strip():
        args.append(f"--name={request.name.strip()}")
    if request.mode:
        args.append(f"--mode={request.mode}")
    for tag in request.tags:
        args.append(f"--tag={tag}")
    args += ["--id", exp_id, "--json"]
    return args


def build_run_command(
    home: str | Path, request: LaunchRequest, exp_id: str, python: str | None = None
) -> list[str]:
    """The full argument list of a detached run: ``python -m cli.main --home HOME run ...``."""
    return [python or sys.executable, "-m", "cli.main", "--home", str(home), *run_arguments(request, exp_id)]


@dataclass(frozen=True)
class Launched:
    """A process this TUI started: its experiment id when known in advance (a run, an import, a resume, an
    analysis; None for a study), pid, argument list, output log and, for a study, the study's name."""

    exp_id: str | None
    pid: int
    argv: tuple[str, ...]
    log_path: Path
    study: str | None = None

    @property
    def command_line(self) -> str:
        """The command as a shell would spell it."""
        return shlex.join(self.argv)


def start_detached(argv: list[str], log_path: Path, *, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``argv`` in a new session with stdin from /dev/null and output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"$ {shlex.join(argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(  # noqa: S603 - an argument list, no shell
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    _children[process.pid] = process
    return process


def start(home: str | Path, arguments: list[str], log_name: str, *, exp_id: str | None = None,
          study: str | None = None) -> Launched:  # fmt: skip
    """Start ``ocrq --home HOME ARGUMENTS`` detached, its output in ``HOME/launches/LOG_NAME.log``."""
    home = Path(home)
    argv = [sys.executable, "-m", "cli.main", "--home", str(home), *arguments]
    log_path = home / LAUNCH_DIR / f"{log_name}.log"
    process = start_detached(argv, log_path, env={**os.environ, "OCRQ_HOME": str(home)})
    return Launched(exp_id=exp_id, pid=process.pid, argv=tuple(argv), log_path=log_path, study=study)


def launch_run(home: str | Path, request: LaunchRequest, exp_id: str | None = None) -> Launched:
    """Validate ``request`` and start `ocrq run` for it as a detached process.

    Raises:
        ConfigError: the request is invalid (nothing is started).
    """
    validate_request(request)
    exp_id = exp_id or secrets.token_hex(6)
    return start(home, run_arguments(request, exp_id), exp_id, exp_id=exp_id)


# -- studies and imports -------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyRequest:
    """What the launch form asks for in study mode (numbers as the text typed, checked by `validate_study`).

    ``overrides`` are config fields (CLI text) the study's baseline is trained with.
    """

    template: str
    method: str = "bayesian"
    target: str = "balanced"
    n_trials: str = "20"
    jobs: str = "1"
    name: str = ""
    dry_run: bool = False
    overrides: dict[str, str] = field(default_factory=dict)
    from_ref: str = ""  # an experiment (trained or imported) whose model every trial compresses


def _whole_number(flag: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(f"{flag} '{text}' is not a whole number") from None


def validate_study(request: StudyRequest, store: Store) -> None:
    """ConfigError with the line `ocrq study run` would print for the same arguments."""
    if request.template not in TEMPLATES and not request.from_ref.strip():
        raise ConfigError(f"template '{request.template}' is not known; allowed {', '.join(TEMPLATES)}")
    n_trials, jobs = _whole_number("--n-trials", request.n_trials), _whole_number("--jobs", request.jobs)
    check_study_options(request.method, request.target, "median", n_trials, jobs)
    name = check_study_name(request.name.strip())
    if any(study.get("name") == name for study in store.list_studies()):
        raise ConfigError(f"--study-name '{name}' is taken; give a new name (`ocrq study run` resumes it)")
    if request.from_ref.strip():
        _check_study_baseline(store, request)
        return
    resolve_config(request.template, overrides={**request.overrides, "mode": "train"})


def _check_study_baseline(store: Store, request: StudyRequest) -> None:
    """The `--from` experiment exists and holds a trained or imported model; its architecture is fixed."""
    from store import AmbiguousId, ExperimentNotFound

    ref = request.from_ref.strip()
    try:
        exp_id = store.resolve_id(ref)
    except (ExperimentNotFound, AmbiguousId, ValueError) as error:
        raise ConfigError(f"--from: {error}") from None
    folder = store.experiment_dir(exp_id)
    if not ((folder / "model_fp32.pt").is_file() or (folder / "import.json").is_file()):
        raise ConfigError(
            f"experiment {exp_id} has no trained or imported model; pick a finished baseline or import"
        )
    frozen = sorted(set(request.overrides) & {"model", "charset", "image_height"})
    if frozen:
        raise ConfigError(f"{', '.join(frozen)} cannot change when compressing an existing baseline")


def study_arguments(request: StudyRequest) -> list[str]:
    """``study run TEMPLATE|--from=ID --method=... --study-name=NAME [--field=value ...] [--dry-run]``."""
    source = [f"--from={request.from_ref.strip()}"] if request.from_ref.strip() else [request.template]
    args = ["study", "run", *source, f"--method={request.method}",
            f"--optimization-target={request.target}", f"--n-trials={request.n_trials.strip()}",
            f"--jobs={request.jobs.strip()}", f"--study-name={request.name.strip()}"]  # fmt: skip
    args += [f"--{key.replace('_', '-')}={text}" for key, text in request.overrides.items()]
    if request.dry_run:
        args.append("--dry-run")
    return args


def launch_study(store: Store, request: StudyRequest) -> Launched:
    """Validate and start `ocrq study run` detached; ConfigError (nothing started) for a bad request."""
    validate_study(request, store)
    name = request.name.strip()
    return start(store.home, study_arguments(request), f"study-{name}", study=name)


@dataclass(frozen=True)
class ImportRequest:
    """What the launch form asks for in import mode: `ocrq import MODEL --data DATA ...` (text as typed)."""

    model: str
    data: str = "synthetic"
    height: str = ""
    name: str = ""
    normalize: str = "paddle"
    variants: str = ""
    lines: str = ""
    tags: tuple[str, ...] = ()


def validate_import(request: ImportRequest) -> None:
    """ConfigError with the line `ocrq import` would print (what needs the model is checked when it runs)."""
    check_import_options(request.model.strip(), request.data.strip(), request.normalize)
    for flag, text in (("--height", request.height), ("--lines", request.lines)):
        if text.strip() and _whole_number(flag, text) < 1:
            raise ConfigError(f"{flag} {text.strip()} is not allowed; give a whole number >= 1")


def import_arguments(request: ImportRequest) -> list[str]:
    """``import MODEL --data=DATA [--height=H] [--name=N] ...`` (empty fields keep `ocrq import`'s defaults)."""
    model, data = request.model.strip(), request.data.strip()
    model = str(Path(model).expanduser().resolve()) if model else "MODEL.onnx"
    data = str(Path(data).expanduser().resolve()) if data and data != "synthetic" else data
    args = ["import", model, f"--data={data}", f"--normalize={request.normalize}"]
    for flag, text in (("height", request.height), ("name", request.name), ("variants", request.variants),
                       ("lines", request.lines)):  # fmt: skip
        if text.strip():
            args.append(f"--{flag}={text.strip()}")
    args += [f"--tag={tag}" for tag in request.tags]
    return args + ["--json"]


def launch_import(home: str | Path, request: ImportRequest) -> Launched:
    """Validate and start `ocrq import` detached under a pre-allocated id (so the TUI can open the
    experiment at once); ConfigError (nothing started) for a bad request."""
    validate_import(request)
    exp_id = secrets.token_hex(6)
    arguments = [*import_arguments(request)[:-1], f"--id={exp_id}", "--json"]
    return start(home, arguments, exp_id, exp_id=exp_id)


def command_preview(request: LaunchRequest | StudyRequest | ImportRequest) -> str:
    """The command a user would type: ``ocrq run quickstart --qat-epochs=3 --tag=x``, ``ocrq study run ...``."""
    if isinstance(request, StudyRequest):
        return shlex.join(["ocrq", *study_arguments(request)])
    if isinstance(request, ImportRequest):
        return shlex.join(["ocrq", *import_arguments(request)[:-1]])
    return shlex.join(["ocrq", *run_arguments(request, "ID")[:-3]])


RESUMABLE = ("interrupted", "crashed", "failed")


def resume_run(home: str | Path, experiment: dict[str, Any]) -> Launched:
    """Continue an interrupted or crashed experiment from its last checkpoint (`ocrq run --resume ID`).

    Raises:
        ValueError: the experiment is not interrupted, crashed or failed.
    """
    exp_id, status = experiment["id"], experiment.get("status")
    if status not in RESUMABLE:
        raise ValueError(
            f"experiment {exp_id[:8]} is {status}; only {', '.join(RESUMABLE)} runs can be resumed"
        )
    return start(home, ["run", "--resume", exp_id, "--json"], f"{exp_id}-resume", exp_id=exp_id)


def analyze_run(home: str | Path, experiment: dict[str, Any]) -> Launched:
    """Start `ocrq analyze ID` for a finished experiment as a detached process (it records its files).

    Raises:
        ValueError: the experiment has not finished, or has no variant to analyse.
    """
    exp_id, status = experiment["id"], experiment.get("status")
    if status != "finished" or not experiment.get("variants"):
        raise ValueError(f"experiment {exp_id[:8]} is {status}; only a finished experiment can be analysed")
    return start(home, ["analyze", exp_id, "-q"], f"{exp_id}-analyze", exp_id=exp_id)


def launch_log_tail(path: Path, lines: int = 40) -> list[str]:
    """The last lines of a launch log (empty when it does not exist)."""
    try:
        data = path.read_bytes()[-65536:]
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


# -- processes -----------------------------------------------------------------------------------


def _proc_text(pid: int, name: str) -> str | None:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def graceful_signal(pid: int) -> int:
    """SIGINT, which `ocrq run` turns into a graceful interrupt; SIGTERM when the process ignores SIGINT.

    A process started with SIGINT ignored (``nohup``-style launchers) never sees SIGINT, while `ocrq run`
    always installs its own SIGTERM handler.
    """
    status = _proc_text(pid, "status") or ""
    match = re.search(r"^SigCgt:\s*([0-9a-fA-F]+)", status, re.M)
    if match and not int(match.group(1), 16) & (1 << (signal.SIGINT - 1)):
        return signal.SIGTERM
    return signal.SIGINT


def stop_process(pid: int, grace_s: float = GRACE_S, *, started: float | None = None) -> str:
    """Interrupt ``pid`` with the signal it listens to (`graceful_signal`), then kill it after ``grace_s``.

    Returns:
        ``"interrupted"`` (it exited within the grace period), ``"killed"`` or ``"gone"`` (not running).
    """
    if not process_alive(pid, started):
        return "gone"
    # never reaped here: whoever started the process (this TUI's Popen, a test's) keeps its exit code
    outcome = store_stop_process(pid, grace_s, started=started, graceful=graceful_signal(pid), reap=False)
    child = _children.get(pid)
    if child is not None and outcome != "gone":
        child.wait(timeout=5)  # reaped by its own Popen, which keeps the exit code
        _children.pop(pid, None)
    return outcome


class StopError(Exception):
    """The experiment cannot be stopped from here (not running, another host, pid not ocrq)."""


def stop_experiment(store: Store, exp_id: str, grace_s: float = GRACE_S) -> str:
    """Stop a running experiment: graceful interrupt, then kill after ``grace_s``.

    A killed run cannot record its own end, so it is stored as ``interrupted`` with the reason.

    Returns:
        A one-line message saying what happened.

    Raises:
        StopError: the experiment is not running here.
    """
    experiment = store.get(exp_id)
    short = experiment["id"][:8]
    if experiment.get("status") != "running":
        raise StopError(
            f"experiment {short} is {experiment.get('status')}; only a running experiment can be stopped"
        )
    beat = experiment.get("heartbeat") or {}
    host = beat.get("host") or experiment.get("host")
    pid = beat.get("pid") or experiment.get("pid")
    started = beat.get("pid_started") if beat.get("pid") else experiment.get("pid_started")
    if host and host != this_host():
        raise StopError(f"experiment {short} runs on host {host}; stop it there")
    if not isinstance(pid, int) or not process_alive(pid, started):
        raise StopError(f"experiment {short} has no live process (pid {pid}); it will show as crashed")
    if not looks_like_ocrq(pid):
        raise StopError(f"pid {pid} of experiment {short} is no longer an ocrq process; not signalling it")
    outcome = stop_process(pid, grace_s, started=started)
    if outcome == "killed":
        # killed: the store already derives `crashed` for it; record why it ended instead
        if store.get(exp_id).get("status") in ("running", "crashed"):
            reason = f"killed by ocrq tui: still running {grace_s:g} s after the interrupt"
            store.set_status(experiment["id"], "interrupted", error=reason)
        return f"experiment {short} did not stop within {grace_s:g} s and was killed (pid {pid})"
    if outcome == "gone":
        return f"experiment {short} had already stopped"
    return f"experiment {short} interrupted (pid {pid}); its checkpoint is saved"


def stop_study(store: Store, study: dict, grace_s: float = 30.0) -> str:
    """Stop a running study's main process (its workers stop with it); a one-line message."""
    pid, host = study.get("pid"), study.get("host")
    if study.get("status") != "running":
        return f"study {study.get('name')} is {study.get('status')}; nothing to stop"
    if host and host != this_host():
        return f"study {study.get('name')} runs on {host}; stop it there"
    if not isinstance(pid, int) or not process_alive(pid, study.get("pid_started")):
        return f"study {study.get('name')} has no live process (pid {pid})"
    outcome = stop_process(pid, grace_s, started=study.get("pid_started"))
    return f"study {study.get('name')}: {outcome} (pid {pid})"
