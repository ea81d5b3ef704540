"""Servers and crawls stop on Ctrl-C or SIGTERM, however the signal falls.

A handler that sets a threading.Event can deadlock when the signal interrupts the main
thread inside that Event's wait (seen in CI: `archiver storage` hung after Ctrl-C).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from archiver.devserver.stopsignal import StopSignal
from archiver.operations.launcher import CrawlChildren


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.usefixtures("restore_handlers")
def test_wait_times_out_without_a_signal() -> None:
    stop = StopSignal()
    started = time.monotonic()
    assert stop.wait(0.3) is False
    assert 0.25 <= time.monotonic() - started < 2
    assert stop.received is None


@pytest.mark.usefixtures("restore_handlers")
def test_a_signal_ends_the_wait_and_the_first_one_is_kept() -> None:
    stop = StopSignal()
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    assert stop.wait(30) is True
    assert time.monotonic() - started < 5
    os.kill(os.getpid(), signal.SIGINT)  # a second one (Ctrl-C after a SIGTERM) changes nothing
    assert stop.received == signal.SIGTERM
    timer.join()


LOOP = """
import sys
from archiver.devserver.stopsignal import StopSignal
stop = StopSignal()
print("ready", flush=True)
while not stop.wait(0.001):
    pass
print("stopped", stop.received, flush=True)
"""


def test_a_busy_wait_loop_stops_on_the_first_signal_every_time() -> None:
    # The deadlock needed the signal to land inside the wait's critical section: a loop that
    # waits in very short steps, signalled many times, hits every point of it.
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", LOOP], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert out.strip() == f"stopped {int(signal.SIGINT)}"


class FakeCrawl:
    """Stands for a crawl process: records the signals it was sent."""

    def __init__(self, pid: int, on_signal: Callable[[], None] | None = None) -> None:
        self.pid = pid
        self.sent: list[int] = []
        self._on_signal = on_signal

    def send_signal(self, signum: int) -> None:
        self.sent.append(signum)
        if self._on_signal is not None:
            self._on_signal()


def test_each_crawl_gets_one_sigterm_however_many_stop_requests_come() -> None:
    # Scrapy forces an unclean stop on a second SIGTERM: a second Ctrl-C, even one that
    # lands inside the first stop (the handler runs again, nested), must not send another.
    children = CrawlChildren()
    first = FakeCrawl(101, on_signal=lambda: children.stop(signal.SIGINT))
    second = FakeCrawl(102)
    children.add(first)  # type: ignore[arg-type]
    children.add(second)  # type: ignore[arg-type]
    children.stop(signal.SIGTERM)
    children.stop(signal.SIGINT)
    assert first.sent == [signal.SIGTERM]
    assert second.sent == [signal.SIGTERM]
    assert children.stopping == signal.SIGTERM
    late = FakeCrawl(103)
    children.add(late)  # type: ignore[arg-type]  # started as the stop came: stopped at once
    assert late.sent == [signal.SIGTERM]
    children.remove(first)  # type: ignore[arg-type]
    children.stop(signal.SIGTERM)
    assert first.sent == second.sent == late.sent == [signal.SIGTERM]
