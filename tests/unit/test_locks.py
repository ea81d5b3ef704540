"""The per-site lock: one holder at a time, holders named, dead holders detected and taken over."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.operations import AlreadyRunning, LockHolder, SiteLock, read_holder
from archiver.spool import process_identity

# A process that takes the lock, says so, and keeps it until killed.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from archiver.operations import SiteLock
    lock = SiteLock(Path(sys.argv[1]), "ledger")
    lock.acquire(command="test holder")
    print("locked", flush=True)
    time.sleep(120)
    """
)


def start_holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_acquire_records_the_holder_and_release_empties_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger" / "lock"
    lock = SiteLock(path, "ledger")
    assert lock.acquire(command="archiver crawl --site ledger") is None
    holder = read_holder(path)
    assert holder is not None
    assert (holder.pid, holder.host, holder.site) == (os.getpid(), socket.gethostname(), "ledger")
    assert holder.command == "archiver crawl --site ledger"
    assert holder.identity == process_identity(os.getpid())
    assert holder.alive() is True
    lock.release()
    assert path.read_text() == "" and read_holder(path) is None
    # Released means free: another lock object (another run) takes it at once.
    again = SiteLock(path, "ledger")
    assert again.acquire() is None
    again.release()


def test_a_live_holder_in_another_process_keeps_others_out(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc = start_holder(path)
    try:
        with pytest.raises(AlreadyRunning) as caught:
            SiteLock(path, "ledger").acquire()
        assert caught.value.holder is not None
        assert caught.value.holder.pid == proc.pid
        assert f"pid {proc.pid} on {socket.gethostname()}" in str(caught.value)
        assert "site ledger is already being crawled" in str(caught.value)
        started = time.monotonic()
        with pytest.raises(AlreadyRunning):
            SiteLock(path, "ledger").acquire(wait=1.2)
        assert time.monotonic() - started >= 1.1
    finally:
        proc.kill()
        proc.wait()


def test_a_holder_killed_with_sigkill_is_detected_and_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc = start_holder(path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = read_holder(path)
    assert left is not None and left.pid == proc.pid
    assert left.alive() is False
    lock = SiteLock(path, "ledger")
    previous = lock.acquire()
    assert previous is not None and previous.pid == proc.pid
    holder = read_holder(path)
    assert holder is not None and holder.pid == os.getpid()
    lock.release()


def test_waiting_gets_the_lock_once_the_holder_ends(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc = start_holder(path)
    subprocess.Popen(["sh", "-c", f"sleep 0.5; kill {proc.pid}"])
    try:
        lock = SiteLock(path, "ledger")
        lock.acquire(wait=20)
        assert read_holder(path).pid == os.getpid()  # type: ignore[union-attr]
        lock.release()
    finally:
        proc.kill()
        proc.wait()


def test_a_recycled_pid_does_not_pass_for_the_holder(tmp_path: Path) -> None:
    # Our own live pid, recorded with another process start time: a dead holder whose pid
    # the kernel has since given to someone else.
    recycled = LockHolder(
        site="ledger",
        pid=os.getpid(),
        host=socket.gethostname(),
        since=datetime.now(UTC),
        identity="some-boot:123",
    )
    assert recycled.alive() is False
    elsewhere = LockHolder(site="ledger", pid=1, host="other-host", since=datetime.now(UTC))
    assert elsewhere.alive() is None


def test_a_child_adopts_the_parents_lock_and_keeps_it_alive(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    parent = SiteLock(path, "ledger")
    parent.acquire(command="archiver crawl")
    child_code = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from archiver.operations import SiteLock
        lock = SiteLock(Path(sys.argv[1]), "ledger")
        lock.adopt(int(sys.argv[2]))
        print(lock.holder.command, flush=True)
        time.sleep(120)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", child_code, str(path), str(parent.fd)],
        pass_fds=(parent.fd,),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "archiver crawl"
        parent.record_child(child.pid)
        assert read_holder(path).child_pid == child.pid  # type: ignore[union-attr]
        # The parent goes away without releasing (killed): the child still holds the lock.
        os.close(parent.fd)
        parent._fd = None
        with pytest.raises(AlreadyRunning):
            SiteLock(path, "ledger").acquire()
    finally:
        child.kill()
        child.wait()
    taken = SiteLock(path, "ledger")
    assert taken.acquire() is not None
    taken.release()


def test_adopting_a_descriptor_of_another_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_text("")
    (tmp_path / "lock").write_text("")
    fd = os.open(other, os.O_RDONLY)
    try:
        with pytest.raises(RuntimeError, match="is not the lock file"):
            SiteLock(tmp_path / "lock", "ledger").adopt(fd)
    finally:
        os.close(fd)


def test_a_garbled_lock_file_counts_as_free_of_records(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.write_text("{not json")
    assert read_holder(path) is None
    path.write_text(json.dumps({"pid": "x"}))
    assert read_holder(path) is None
    lock = SiteLock(path, "ledger")
    assert lock.acquire() is None
    lock.release()


def test_a_run_that_finds_the_lock_held_waits_for_the_holder_to_say_who_it_is(
    tmp_path: Path,
) -> None:
    # The holder takes the lock and only then writes who it is; a second run arriving in
    # between (a loaded machine stretches that moment) must still name it.
    path = tmp_path / "ledger" / "lock"
    path.parent.mkdir(parents=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    record = {
        "site": "ledger",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "identity": process_identity(os.getpid()),
        "since": datetime.now(UTC).isoformat(),
        "command": "slow holder",
    }
    late = threading.Timer(0.3, lambda: path.write_text(json.dumps(record)))
    late.start()
    try:
        with pytest.raises(AlreadyRunning) as caught:
            SiteLock(path, "ledger").acquire()
    finally:
        late.join()
        os.close(fd)
    assert caught.value.holder is not None and caught.value.holder.command == "slow holder"
    assert f"pid {os.getpid()}" in str(caught.value)
