"""Wait for Ctrl-C or SIGTERM in a server's main loop, without the deadlock of an Event.

A signal handler runs in the main thread between two bytecodes, and that thread may be
inside `threading.Event.wait()` holding the Event's own (non-reentrant) lock: a handler that
calls `Event.set()` then waits for that lock forever, and the server never stops. The
handler here only records the signal; `wait()` sleeps in short steps, which a signal cuts
short, and reads the record.
"""

from __future__ import annotations

import signal
import time
from types import FrameType

STEP_SECONDS = 0.1


class StopSignal:
    """Records the first SIGINT/SIGTERM (or other given signals) once installed."""

    def __init__(self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)):
        self.received: int | None = None
        for signum in signals:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum

    def wait(self, timeout: float | None = None) -> bool:
        """True once a stop signal has come; False after `timeout` seconds (None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.received is None:
            left = STEP_SECONDS if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, STEP_SECONDS))
        return True
