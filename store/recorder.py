"""The runner's event sink that writes a run into the store.

Events are the frozen dataclasses of ``pipeline.core.events``; this module must not import ``pipeline``,
so it dispatches on ``event.kind`` and reads fields with ``dataclasses.asdict``.

An index write rewrites the experiment's index shard (and its summary copy), so the recorder keeps the
best baseline CER/EM in memory and writes them to the index at most every 10 s, at each stage change
and at the end of the run.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Any

from .store import Store

SUMMARY_INTERVAL_S = 10.0
PROGRESS_INTERVAL_S = 1.0
_OWNED_SUMMARY_FIELDS = frozenset({"id", "created", "status", "deleted", "tags"})


class StoreRecorder:
    """A callable sink: ``recorder(event)`` records one runner event for experiment ``exp_id``.

    Args:
        store: the store to write to.
        exp_id: the experiment being run (created beforehand with ``create_experiment``).
        keep_status: re-measuring a stored experiment in place (``--from ID --mode evaluate``): its
            status stays what it was; a failure is logged, and only a finished re-measure updates the
            summary's figures.
    """

    def __init__(self, store: Store, exp_id: str, *, keep_status: bool = False) -> None:
        self.store = store
        self.exp_id = exp_id
        self.keep_status = keep_status
        self.stage: str | None = None
        self.progress: str | None = None
        self.gpus: list[dict[str, Any]] | None = None  # the last GPU sample of a GPU run
        self.best_cer: float | None = None
        self.best_em: float | None = None
        self._pending: dict[str, Any] = {}
        self._last_summary_write = time.monotonic()
        self._last_progress_beat = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, event: Any) -> None:
        """Record one event (a ``pipeline.core.events`` dataclass); kinds the store does not know are skipped."""
        kind = getattr(event, "kind", None)
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            return  # an event kind this store version does not record
        handler(dataclasses.asdict(event))

    # -- handlers ------------------------------------------------------------------------------

    def _on_run_started(self, fields: dict[str, Any]) -> None:
        if not self.keep_status:
            self.store.set_status(self.exp_id, "running")
        self._beat(self.stage, "started")
        resumed = fields.get("resumed_from_epoch") or 0
        detail = f", resumed from epoch {resumed}" if resumed else ""
        self.store.append_log(
            self.exp_id,
            "info",
            f"run started on {fields.get('device')} with {fields.get('threads')} threads{detail}",
        )

    def _on_stage_started(self, fields: dict[str, Any]) -> None:
        stage = fields["stage"]
        with self._lock:
            self.stage, self.progress = stage, fields.get("detail") or None
        self._beat(stage, self.progress)
        self._flush(stage=stage)
        detail = f": {fields['detail']}" if fields.get("detail") else ""
        self.store.append_log(self.exp_id, "info", f"stage {stage} started{detail}")

    def _on_stage_progress(self, fields: dict[str, Any]) -> None:
        progress = f"{fields['completed']:g}/{fields['total']:g}"
        if fields.get("message"):
            progress += f" {fields['message']}"
        with self._lock:
            self.stage, self.progress = fields["stage"], progress
        now = time.monotonic()
        if now - self._last_progress_beat >= PROGRESS_INTERVAL_S:
            self._last_progress_beat = now
            self._beat(self.stage, progress)

    def _on_epoch_ended(self, fields: dict[str, Any]) -> None:
        self.store.record_epoch(self.exp_id, fields)
        with self._lock:
            self.progress = f"epoch {fields['epoch']}"
        self._beat(self.stage, self.progress)
        if fields.get("phase", "baseline") != "baseline":
            return
        cer, em = fields.get("cer"), fields.get("em")
        with self._lock:
            if _finite(cer) and (self.best_cer is None or cer < self.best_cer):
                self.best_cer = self._pending["best_cer"] = float(cer)
            if _finite(em) and (self.best_em is None or em > self.best_em):
                self.best_em = self._pending["best_em"] = float(em)
            due = self._pending and time.monotonic() - self._last_summary_write >= SUMMARY_INTERVAL_S
        if due:
            self._flush()

    def _on_device_usage(self, fields: dict[str, Any]) -> None:
        with self._lock:
            self.gpus = fields.get("gpus") or None
        self._beat(self.stage, self.progress)

    def _on_variant_evaluated(self, fields: dict[str, Any]) -> None:
        self.store.record_variant(self.exp_id, {"name": fields["name"], **fields.get("metrics", {})})

    def _on_artifact_saved(self, fields: dict[str, Any]) -> None:
        self.store.record_artifact(
            self.exp_id,
            kind=fields["artifact_kind"],
            path=fields["path"],
            bytes=fields["bytes"],
            variant=fields.get("variant"),
        )

    def _on_log(self, fields: dict[str, Any]) -> None:
        self.store.append_log(self.exp_id, fields["level"], fields["message"])

    def _on_run_finished(self, fields: dict[str, Any]) -> None:
        summary = {k: v for k, v in (fields.get("summary") or {}).items() if k not in _OWNED_SUMMARY_FIELDS}
        self.stop(flush=False)
        with self._lock:
            changes = {**self._pending, **summary}
            self._pending.clear()
        if self.keep_status:
            if fields["status"] == "finished":
                self.store.update_summary(self.exp_id, **changes)
        else:
            self.store._set_status(self.exp_id, fields["status"], fields=changes)
        self.store.append_log(self.exp_id, "info", f"run {fields['status']}")

    def _on_run_failed(self, fields: dict[str, Any]) -> None:
        self.stop(flush=False)
        with self._lock:
            changes = dict(self._pending)
            self._pending.clear()
        if not self.keep_status:
            self.store._set_status(self.exp_id, "failed", error=fields["error"], fields=changes)
        self.store.append_log(self.exp_id, "error", f"run failed: {fields['error']}")

    # -- summary and heartbeat thread ----------------------------------------------------------

    def _beat(self, stage: str | None, progress: str | None) -> None:
        self.store.heartbeat(self.exp_id, stage=stage, progress=progress, gpus=self.gpus)

    def _flush(self, **extra: Any) -> None:
        """Write pending summary fields (and ``extra``) to the index in one write."""
        with self._lock:
            changes = {**self._pending, **extra}
            self._pending.clear()
            self._last_summary_write = time.monotonic()
        if changes:
            self.store.update_summary(self.exp_id, **changes)

    def start_heartbeat(self, interval: float = 5.0) -> None:
        """Heartbeat from a daemon thread every ``interval`` seconds until :meth:`stop`.

        Keeps a run visibly alive while one long step (an epoch, an export) sends no events.
        """
        if interval <= 0:
            raise ValueError(f"interval={interval!r} is not allowed; give seconds > 0")
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._beat_until_stopped,
            args=(interval,),
            name=f"ocrq-heartbeat-{self.exp_id}",
            daemon=True,
        )
        self._thread.start()

    def _beat_until_stopped(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with self._lock:
                stage, progress = self.stage, self.progress
            try:
                self._beat(stage, progress)
            except Exception:  # noqa: BLE001 - a missed heartbeat must never kill the run
                continue

    def stop(self, flush: bool = True) -> None:
        """Stop the heartbeat thread and (by default) write pending summary fields."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if flush:
            self._flush()


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
