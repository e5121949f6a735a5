"""A sink that shows a run's progress on stderr with rich: a bar per stage, a line per epoch."""

from __future__ import annotations

import math

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cli.console import err, fmt_bytes, fmt_pct


class ProgressDisplay:
    """Turns runner events into a live progress bar; quiet when stderr is not a terminal."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]{task.fields[stage]:<10}"),
            BarColumn(),
            TextColumn("{task.completed:>5.1f}/{task.total:<4.0f}"),
            TextColumn("{task.fields[message]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not enabled,
        )
        self.task = None
        self.last_epoch_note = ""

    def __enter__(self) -> ProgressDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def __call__(self, event) -> None:
        if not self.enabled:
            return
        kind = event.kind
        if kind == "stage_started":
            if self.task is not None:
                self.progress.remove_task(self.task)
            total = float(event.total) if event.total else 1.0
            self.task = self.progress.add_task("", total=total, stage=event.stage, message=event.detail)
            self.progress.console.print(f"[bold cyan]▶ {event.stage}[/] {event.detail}")
        elif kind == "stage_progress" and self.task is not None:
            self.progress.update(
                self.task,
                completed=event.completed,
                total=event.total,
                message=f"{event.message}  {self.last_epoch_note}",
            )
        elif kind == "epoch_ended":
            val_loss = (
                "-" if event.val_loss is None or math.isnan(event.val_loss) else f"{event.val_loss:.3f}"
            )
            self.last_epoch_note = f"last val CER {fmt_pct(event.cer)}"
            self.progress.console.print(
                f"  {event.phase} epoch {event.epoch:>3}  train loss {event.train_loss:.3f}  val loss {val_loss}  "
                f"CER {fmt_pct(event.cer)}  EM {fmt_pct(event.em)}  lr {event.lr:.2e}  {event.seconds:.1f}s"
            )
            if self.task is not None:
                self.progress.update(self.task, completed=event.epoch)
        elif kind == "variant_evaluated":
            m = event.metrics
            self.progress.console.print(
                f"  variant {event.name:<22} CER {fmt_pct(m.get('cer'))}  size {fmt_bytes(m.get('size_bytes'))}"
                + (f"  p50 {m['latency_ms_p50']:.2f} ms" if m.get("latency_ms_p50") is not None else "")
            )
        elif kind == "log" and event.level in ("warning", "error"):
            self.progress.console.print(f"  [yellow]{event.level}:[/] {event.message}", markup=True)


def fan_out(*sinks):
    """One sink that forwards every event to several."""

    def sink(event) -> None:
        for target in sinks:
            target(event)

    return sink
