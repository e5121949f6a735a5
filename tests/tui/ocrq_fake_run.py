"""A stand-in for a training process: records a running experiment through the real store API.

Usage: python ocrq_fake_run.py HOME EXP_ID EPOCHS INTERVAL_S [cooperative|stubborn]

Each epoch carries ``recorded_at`` (wall-clock seconds) so a test can measure how long the TUI takes
to show it. ``cooperative`` ends as ``interrupted`` on SIGINT/SIGTERM like `ocrq run`; ``stubborn``
ignores both, so only SIGKILL stops it.
"""

from __future__ import annotations

import signal
import sys
import time

from store import Store


def main() -> int:
    home, exp_id, epochs, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    behaviour = sys.argv[5] if len(sys.argv) > 5 else "cooperative"
    store = Store(home)
    store.create_experiment(name="fake-run", template="smoke", config={"train": {"epochs": epochs}},
                            model="crnn_tiny", experiment_id=exp_id)  # fmt: skip
    if behaviour == "stubborn":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    store.set_status(exp_id, "running")
    try:
        for number in range(1, epochs + 1):
            store.heartbeat(exp_id, stage="train", progress=f"{number - 1}/{epochs}")
            time.sleep(interval)
            losses = {"train_loss": 2.0 / number, "val_loss": 2.2 / number}
            metrics = {"cer": 0.5 / number, "em": 0.1 * number, "lr": 1e-3, "seconds": interval}
            epoch = {"epoch": number, **losses, **metrics, "recorded_at": time.time()}
            store.record_epoch(exp_id, epoch)
            store.append_log(exp_id, "info", f"epoch {number} done")
    except KeyboardInterrupt:
        store.append_log(exp_id, "warning", "interrupted: checkpoint saved")
        store.set_status(exp_id, "interrupted")
        return 130
    store.set_status(exp_id, "finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
