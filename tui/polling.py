"""Screens that poll the store: one read at a time in a thread worker, rescheduled after it finishes.

The poll never overlaps itself (a request during a read runs right after it), pauses while the screen
is hidden and resumes with an immediate read when the screen shows again. Worker failures of every
group are reported in one place, ``on_worker_state_changed``.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

POLL_GROUP = "poll"


class PollingScreen(Screen):
    """A screen whose :meth:`read_store` runs in a thread every ``POLL_INTERVAL`` seconds while shown."""

    POLL_INTERVAL: ClassVar[float] = 2.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._poll_timer: Timer | None = None
        self._polling = False
        self._poll_again: bool | None = None  # None: no request waiting; else its `force` flag
        self._last_error: str | None = None
        self._shown = False  # between ScreenResume and ScreenSuspend (Screen.is_current is also true
        # for the screen right under the top one, which is hidden here)

    def read_store(self, force: bool) -> Message | None:
        """Read what the screen shows (runs in a thread); return a message to post, or None if unchanged."""
        raise NotImplementedError

    def on_screen_resume(self) -> None:
        self._shown = True
        self.poll_now()

    def on_screen_suspend(self) -> None:
        self._shown = False
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None

    def poll_now(self, force: bool = False) -> None:
        """Read the store now, or right after the read in progress."""
        self._cancel_timer()
        if self._polling:
            self._poll_again = bool(self._poll_again) or force
            return
        self._polling = True
        self._poll(force)

    @work(thread=True, exit_on_error=False, group=POLL_GROUP, description="read the store")
    def _poll(self, force: bool) -> None:
        message = self.read_store(force)
        if message is not None and not get_current_worker().is_cancelled:
            self.post_message(message)

    def _poll_finished(self) -> None:
        self._polling = False
        if self._poll_again is not None:
            force, self._poll_again = self._poll_again, None
            self.poll_now(force)
        elif self._shown:
            self._poll_timer = self.set_timer(self.POLL_INTERVAL, self.poll_now)

    def run_action_in_thread(self, function, *args, description: str = "") -> Worker:
        """Run a store write or a process action in a thread (see ``OcrqApp.run_store_action``)."""
        return self.app.run_store_action(function, *args, description=description)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker, state = event.worker, event.state
        if state == WorkerState.ERROR:
            error = worker.error
            text = f"{worker.description or 'background work'} failed: {error}"
            if worker.group != POLL_GROUP or text != self._last_error:
                self.notify(text, title="ocrq", severity="error", timeout=8)
            if worker.group == POLL_GROUP:
                self._last_error = text
        if worker.group == POLL_GROUP and state in (WorkerState.SUCCESS, WorkerState.ERROR):
            if state == WorkerState.SUCCESS:
                self._last_error = None
            self._poll_finished()
