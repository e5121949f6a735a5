"""What a CPU template (`quickstart`, or `cpu_long` with `--template`) reaches in its budget: CER and EM on
training fonts and on held-out fonts, against the template's targets, and each variant's CER change.

Runs the real command (`ocrq run TEMPLATE`) in a fresh temporary home, then prints wall time per
stage and the FP32 test figures. Extra arguments go to `ocrq run` (e.g. `--mode train`).

    python bench/quickstart_bench.py [--template cpu_long] [--keep-home DIR] [--mode train] [...]

`--keep-home DIR` runs in DIR (kept afterwards, e.g. as a baseline for bench/compression_bench.py)
instead of a temporary home.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime

# (training fonts, held-out families): the CER each CPU template aims at
TARGETS = {"quickstart": (2.0, 4.0), "cpu_long": (1.5, 2.5)}


def stage_durations(log_lines: list[str]) -> list[tuple[str, float]]:
    """Seconds between consecutive 'stage ... started' log lines (the last stage ends at the run's end)."""
    marks = []
    for line in log_lines:
        stamp, _, rest = line.partition(" ")
        if "stage " in rest and " started" in rest:
            marks.append((rest.split("stage ", 1)[1].split(" started")[0], datetime.fromisoformat(stamp)))
        elif "run finished" in rest or "finished" in rest.split(":")[0]:
            marks.append(("end", datetime.fromisoformat(stamp)))
    return [
        (name, (marks[i + 1][1] - start).total_seconds())
        for i, (name, start) in enumerate(marks[:-1])
        if name != "end"
    ]


def _pop_option(args: list[str], name: str) -> str | None:
    """Remove `name VALUE` from args and return VALUE (None when absent)."""
    if name not in args:
        return None
    at = args.index(name)
    value = args[at + 1]
    del args[at : at + 2]
    return value


def main() -> None:
    extra = sys.argv[1:]
    template = _pop_option(extra, "--template") or "quickstart"
    if template not in TARGETS:
        sys.exit(f"--template {template!r} is not a CPU template; allowed {', '.join(TARGETS)}")
    in_dist, held_out = TARGETS[template]
    keep = None
    if "--keep-home" in extra:
        at = extra.index("--keep-home")
        keep = extra[at + 1]
        del extra[at : at + 2]
        os.makedirs(keep, exist_ok=True)
    with tempfile.TemporaryDirectory() if keep is None else contextlib.nullcontext(keep) as home:
        env = {**os.environ, "OCRQ_HOME": home}
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "cli.main", "run", template, "--json", *extra],
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.monotonic() - started
        if result.returncode != 0:
            print(result.stderr[-2000:])
            sys.exit(result.returncode)
        exp_id = json.loads(result.stdout)["id"]
        shown = subprocess.run(
            [sys.executable, "-m", "cli.main", "show", exp_id, "--json"],
            capture_output=True,
            text=True,
            env=env,
        )
        doc = json.loads(shown.stdout)
        log = open(os.path.join(home, "experiments", exp_id, "run.log"), encoding="utf-8").read().splitlines()
    print(
        f"ocrq run {template} {' '.join(extra)}: {wall / 60:.1f} min wall on {os.cpu_count()} cores "
        f"(load average now {os.getloadavg()[0]:.2f})"
    )
    for name, seconds in stage_durations(log):
        print(f"  stage {name:<10} {seconds:7.1f} s")
    print(f"  status: {doc['status']}" + (f" ({doc['error']})" if doc.get("error") else ""))
    epochs = [e for e in doc["epochs"] if e.get("phase", "baseline") == "baseline"]
    print(
        f"  baseline epochs: {len(epochs)} (last stage: {doc.get('stage')}); last validation CER {100 * epochs[-1]['cer']:.2f}% "
        f"EM {100 * epochs[-1]['em']:.1f}%"
    )
    fp32 = next(v for v in doc["variants"] if v["name"] == "fp32")
    held = fp32.get("held_out_fonts") or {}
    print(
        f"  test, training fonts : CER {100 * fp32['cer']:.2f}%  EM {100 * fp32['em']:.1f}%  ({fp32['samples']} lines)   target CER <= {in_dist:g}%"
    )
    if held:
        print(
            f"  test, held-out fonts : CER {100 * held['cer']:.2f}%  EM {100 * held['em']:.1f}%  ({held['samples']} lines)   target CER <= {held_out:g}%"
        )
    for variant in doc["variants"][1:]:
        print(
            f"  {variant['name']:<22} CER {100 * variant['cer']:.2f}% ({100 * (variant['cer'] - fp32['cer']):+.2f} pp)  "
            f"{variant['size_bytes']:,} bytes  "
            f"p50 {variant.get('latency_ms_p50', float('nan')):.2f} ms"
        )


if __name__ == "__main__":
    main()
