"""An extractor that runs another one and records the CPU time of each call (bench/cleaning.py).

The shared scorers time each call on the wall clock, which other processes on a shared
machine stretch by any amount; CPU time is what one call costs.  bench/cleaning.py hands the
scorer `bench._cputimed:extract` with the real extractor (`module:function`) in
BENCH_CLEANING_EXTRACTOR; at exit the CPU seconds of every call, in call order (warm-up
calls first), are written as a JSON list to the file named by BENCH_CLEANING_CPU_OUT.
Standard library only: it also runs under the baselines' interpreter.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

_module, _, _name = os.environ["BENCH_CLEANING_EXTRACTOR"].rpartition(":")
_target: Callable[[object, str | None], str | None] = getattr(
    importlib.import_module(_module), _name
)
_seconds: list[float] = []


def extract(html: object, url: str | None) -> str | None:
    """The real extractor's result; its CPU time is recorded."""
    start = time.process_time()
    try:
        return _target(html, url)
    finally:
        _seconds.append(time.process_time() - start)


@atexit.register
def _write() -> None:
    Path(os.environ["BENCH_CLEANING_CPU_OUT"]).write_text(json.dumps(_seconds), encoding="utf-8")
