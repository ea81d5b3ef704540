"""Whether a process still runs, and when it started (Linux ``/proc``).

Both readers of these facts judge whether a process named in a file is the one that wrote it,
or a recycled pid: spool recovery asks it of the writer named in an open WARC's file name,
and the site locks of archiver.operations ask it of a lock's recorded holder.  It lives in
the spool, the lower of the two layers that need it, so that both use the same reading of
/proc.
"""

from __future__ import annotations

import os
from pathlib import Path


def pid_exists(pid: int) -> bool:
    """Whether a process with this pid exists (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_ticks(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (field 22 of /proc/{pid}/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _boot_time() -> int | None:
    """When the machine booted, in seconds since the epoch (btime of /proc/stat)."""
    try:
        return next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None


def process_start(pid: int) -> float | None:
    """When a process started, in seconds since the epoch (Linux /proc), or None."""
    ticks = _start_ticks(pid)
    btime = _boot_time()
    if ticks is None or btime is None:
        return None
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def process_identity(pid: int) -> str | None:
    """The "{boot id}:{start time in clock ticks}" of a live process (Linux), else None.

    A pid is reused once its process is gone; the start time since boot, and the boot
    id across reboots, tell a recycled pid from the process that took the lock.
    """
    ticks = _start_ticks(pid)
    boot = _boot_id()
    if ticks is None or boot is None:
        return None
    return f"{boot}:{ticks}"
