"""Is the writer of a .open WARC alive, dead, or unknown (on another host)? Recovery acts on it."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from archiver.spool import Writer, process_start, recover_open_files, writer_state
from tests.support.open_warcs import crawl_dir, dead_pid, open_name, write_open_warc


def test_a_file_this_process_writes_is_alive(tmp_path: Path) -> None:
    path = tmp_path / open_name(os.getpid())
    path.write_bytes(b"")
    assert writer_state(path) is Writer.ALIVE


def test_a_file_whose_writer_is_gone_is_dead(tmp_path: Path) -> None:
    path = tmp_path / open_name(dead_pid())
    path.write_bytes(b"")
    assert writer_state(path) is Writer.DEAD


def test_a_recycled_pid_is_told_from_the_writer(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        path = tmp_path / open_name(sleeper.pid)
        path.write_bytes(b"")
        # Last written an hour before this process existed: its pid is someone else's now.
        hour_ago = time.time() - 3600
        os.utime(path, (hour_ago, hour_ago))
        started = process_start(sleeper.pid)
        assert started is not None and started > hour_ago
        assert writer_state(path) is Writer.DEAD
        # Written after the process started: that process may well be the writer.
        os.utime(path, None)
        assert writer_state(path) is Writer.ALIVE
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_file_from_another_host_is_left_alone_unless_its_crawl_finished(
    tmp_path: Path,
) -> None:
    crawl = crawl_dir(tmp_path)
    src = write_open_warc(tmp_path / "w", 2)
    path = crawl.root / open_name(dead_pid(), host="other-host")
    src.rename(path)
    assert writer_state(path) is Writer.UNKNOWN
    assert recover_open_files(crawl).left == [path]
    assert path.exists()
    crawl.mark_finished(datetime.now(UTC))
    result = recover_open_files(crawl)
    assert [p.name for p in result.recovered] == [path.name.removesuffix(".open")]
