"""How fast an `ocrq study` searches on this machine, and whether it beats the template's own variants.

One baseline is trained (timed apart); then, from it:
  * the template's default variants (`ocrq run --from BASE --mode compress`), each scored with the study's
    objective (the same `Objective` the trials use);
  * one study per worker count in `--jobs` (`ocrq study run --from BASE --jobs J`), each from scratch.
Printed: wall time, completed / pruned / failed trials, completed trials per hour, the share pruned and
the time pruning saved (each pruned trial against the median full run of completed trials of its
strategy), and the best trial's score against the best default variant's, beside the measurement noise:
the study's first trials are the template's own variants (warm start), so each one whose resolved
settings equal a default variant's is the same configuration measured twice, and the largest score gap
between the two measurements is the noise a margin has to clear. A best trial that is itself a default
configuration re-measured is flagged: its margin is noise, not a better setting.

Last, the head-to-head: the best trial's experiment and the warm-start trial of the best default variant
(the same configuration built as a trial) are re-measured in turns (`ocrq run --from ID --mode evaluate`,
`--rounds` times each, so both see the same load), and the best trial beats the best default when the mean
per-round score difference is more than two standard errors above zero. Both sides are one-variant trial
experiments on purpose: a variant timed in the defaults' six-variant process measured 3% slower than the
same file timed in a one-variant trial's (0.127 against 0.123 ms; alternated in one process the two files
timed 0.1226 and 0.1227 ms), which alone made a default configuration re-built as a trial "beat" it.

    python bench/study_bench.py                       # quickstart, 20 balanced trials, 1 and 2 workers
    python bench/study_bench.py --quick               # smoke-sized: the whole flow in a few minutes
    python bench/study_bench.py --n-trials 10 --jobs 2 --keep-home /tmp/study-bench
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.study.objective import Objective, TrialMetrics

OCRQ = [sys.executable, "-m", "cli.main"]
QUICK = ["--num-train", "64", "--num-val", "16", "--num-test", "16", "--epochs", "1", "--batch-size", "8",
         "--latency-runs", "5"]  # fmt: skip


def ocrq(home: Path, *args: str) -> tuple[dict, float]:
    env = {**os.environ, "OCRQ_HOME": str(home), "OMP_NUM_THREADS": "1"}
    started = time.monotonic()
    result = subprocess.run([*OCRQ, *args, "--json"], capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"`ocrq {' '.join(args)}` failed ({result.returncode}): {result.stderr[-2000:]}")
    return json.loads(result.stdout), seconds


def pruning_savings(trials: list[dict]) -> float:
    """Seconds pruned trials did not run: the median completed duration of their strategy minus theirs."""
    full: dict[str, list[float]] = {}
    for trial in trials:
        if trial["state"] == "complete" and trial["duration_s"]:
            full.setdefault(trial["params"].get("strategy"), []).append(trial["duration_s"])
    saved = 0.0
    for trial in trials:
        runs = full.get(trial["params"].get("strategy"))
        if trial["state"] == "pruned" and runs and trial["duration_s"]:
            saved += max(0.0, statistics.median(runs) - trial["duration_s"])
    return saved


def remeasured_defaults(
    home: Path, trials: list[dict], report: dict, scored: dict
) -> dict[int, tuple[str, float]]:
    """{trial number: (default variant, score gap)} for completed trials whose variant resolved to exactly a
    default variant's settings (the same configuration measured a second time)."""
    out = {}
    for trial in trials:
        spec = _trial_row(home, trial).get("spec") if trial["state"] == "complete" else None
        twin = next((name for name, row in report.items() if name in scored and spec is not None
                     and row.get("kind") == trial["params"].get("strategy") and row.get("spec") == spec), None)  # fmt: skip
        if twin is not None:
            out[trial["number"]] = (twin, trial["values"][0] - scored[twin])
    return out


def _trial_row(home: Path, trial: dict) -> dict:
    """The trial's variant row in its experiment's report.json (its resolved settings are `spec`)."""
    report = home / "experiments" / str(trial.get("experiment_id")) / "report.json"
    if not trial.get("experiment_id") or not report.is_file():
        return {}
    rows = json.loads(report.read_text())["variants"]
    return next((row for name, row in rows.items() if name not in ("fp32", "ort-fp32")), {})


def variant_scores(home: Path, experiment_id: str, objective: Objective) -> dict[str, float]:
    """{variant: score} of an experiment's report.json, with the study's objective."""
    rows = json.loads((home / "experiments" / experiment_id / "report.json").read_text())["variants"]
    return {name: objective.score(TrialMetrics.from_rows(row, rows["fp32"])) for name, row in rows.items()
            if name not in ("fp32", "ort-fp32")}  # fmt: skip


def head_to_head(home: Path, trial: dict, twin: dict, objective: Objective, rounds: int) -> None:
    """Re-measure the best trial and the best default's warm-start twin in turns; print the verdict.

    Each round re-measures both experiments back to back, so a round's two scores share the machine's load;
    the verdict rests on the per-round differences: the best trial beats the default when their mean is
    more than two standard errors above zero."""
    trial_scores: list[float] = []
    best: list[float] = []
    for _ in range(rounds):
        for side, scores in ((trial, trial_scores), (twin, best)):
            ocrq(home, "run", "--from", side["experiment_id"], "--mode", "evaluate")
            (score,) = variant_scores(home, side["experiment_id"], objective).values()  # a trial: one variant
            scores.append(score)
    best_name = f"trial {twin['number']} (the default {twin['variant'].split('(')[0]})"
    differences = [mine - theirs for mine, theirs in zip(trial_scores, best, strict=True)]
    margin = statistics.fmean(differences)
    error = statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else float("inf")
    verdict = "beats it" if margin > 2 * error else "does not beat it beyond two standard errors"
    print(f"       head-to-head, {rounds} rounds in turns: best trial {statistics.fmean(trial_scores):.4f} "
          f"[{min(trial_scores):.4f}..{max(trial_scores):.4f}] vs {best_name} {statistics.fmean(best):.4f} "
          f"[{min(best):.4f}..{max(best):.4f}]; per-round margin {margin:+.4f} ± {error:.4f} (standard error), "
          f"beaten in {sum(d > 0 for d in differences)}/{rounds} rounds: {verdict}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--template", default="quickstart")
    parser.add_argument("--n-trials", type=int, default=20)
    parser.add_argument("--target", default="balanced")
    parser.add_argument("--jobs", default="1,2", help="worker counts to time, comma-separated")
    parser.add_argument("--quick", action="store_true", help="tiny data (smoke-sized) to check the flow")
    parser.add_argument("--keep-home", type=Path, help="run in this home and keep it")
    parser.add_argument("--rounds", type=int, default=5, help="head-to-head re-measurements of each side")
    parser.add_argument(
        "--baseline", help="with --keep-home: this home's baseline experiment (not retrained)"
    )
    parser.add_argument("--defaults", help="with --baseline: its default variants' experiment (not rebuilt)")
    args = parser.parse_args()
    extra = QUICK if args.quick else []
    objective = Objective(args.target)
    with contextlib.ExitStack() as stack:
        home = args.keep_home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="study-bench-")))
        if args.baseline:
            base, base_s = {"id": args.baseline}, 0.0
            print(f"baseline {base['id']}: reused from {home}")
        else:
            base, base_s = ocrq(home, "run", args.template, "--mode", "train", *extra)
            print(f"baseline {base['id']}: trained in {base_s:.0f} s (not counted below)")
        if args.defaults:
            defaults, defaults_s = (
                {"id": args.defaults, "path": str(home / "experiments" / args.defaults)},
                0.0,
            )
        else:
            defaults, defaults_s = ocrq(home, "run", "--from", base["id"], "--mode", "compress")
        report = json.loads((Path(defaults["path"]) / "report.json").read_text())["variants"]
        fp32 = report["fp32"]
        scored = {
            name: objective.score(TrialMetrics.from_rows(row, fp32))
            for name, row in report.items()
            if name != "fp32"
        }
        print(
            f"\n{args.template}'s default variants ({defaults_s:.0f} s), scored with the {args.target} objective:"
        )
        for name, score in sorted(scored.items(), key=lambda item: -item[1]):
            row = report[name]
            print(f"  {name:<24} score {score:.4f}  CER {100 * row['cer']:.2f}%  "
                  f"{row.get('compression_ratio') or 0:.2f}x smaller  {row.get('speedup') or 0:.2f}x faster")  # fmt: skip
        best_default = max(scored.items(), key=lambda item: item[1])
        header = f"{'jobs':>4} {'wall s':>7} {'complete':>8} {'pruned':>6} {'failed':>6} {'trials/h':>8} " \
                 f"{'pruned %':>8} {'saved s':>7} {'best score':>10}  best variant"  # fmt: skip
        print(f"best default variant: {best_default[0]} with score {best_default[1]:.4f}", flush=True)
        print(f"\n{header}", flush=True)
        for jobs in [int(j) for j in args.jobs.split(",")]:
            name = f"bench-{args.target}-j{jobs}-{os.getpid()}"
            out, wall = ocrq(home, "study", "run", "--from", base["id"], "--study-name", name, "--n-trials",
                             str(args.n_trials), "--optimization-target", args.target, "--jobs", str(jobs))  # fmt: skip
            trials, counts = out["trials"], out["counts"]
            complete = counts.get("complete", 0)
            best = out["best"][0] if out["best"] else None
            print(
                f"{jobs:>4} {wall:>7.0f} {complete:>8} {counts.get('pruned', 0):>6} {counts.get('fail', 0):>6} "
                f"{3600 * complete / wall:>8.1f} {100 * counts.get('pruned', 0) / max(1, len(trials)):>8.0f} "
                f"{pruning_savings(trials):>7.0f} {best['values'][0] if best else float('nan'):>10.4f}  "
                f"{best['variant'] if best else '-'}",
                flush=True,
            )
            twins = remeasured_defaults(home, trials, report, scored)
            for number, (twin, gap) in sorted(twins.items()):
                print(f"       trial {number} re-measured default {twin}: score gap {gap:+.4f}")
            noise = max((abs(gap) for _, gap in twins.values()), default=float("nan"))
            if best:
                margin = best["values"][0] - best_default[1]
                verdict = (
                    "is a default configuration re-measured: its margin is noise"
                    if best["number"] in twins
                    else ("beats it by more than the noise" if margin > noise else "does not clear the noise")
                )
                print(f"       best trial {best['number']} vs best default {best_default[0]}: margin {margin:+.4f}, "
                      f"noise (largest gap of {len(twins)} re-measured default(s)) {noise:.4f}; {verdict}")  # fmt: skip
                print(
                    f"       best trial's parameters: {json.dumps(best['params'], sort_keys=True)}",
                    flush=True,
                )
                twin = next((t for t in trials if twins.get(t["number"], ("",))[0] == best_default[0]), None)
                if args.rounds > 0 and twin is not None and best["number"] not in twins:
                    head_to_head(home, best, twin, objective, args.rounds)
        print(f"home: {home}" if args.keep_home else "")


if __name__ == "__main__":
    main()
