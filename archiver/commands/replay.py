"""`archiver replay`: pywb on 127.0.0.1 over the archive in S3, with the archive-wide index."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from types import FrameType

import click

from archiver.access import (
    COLLECTION,
    ReplayError,
    ReplayServer,
    ensure_pywb,
    open_archive,
    prepare,
    pywb_environment,
)
from archiver.commands._base import EXIT_FAILURE, EXIT_OK, Context, pass_context, usage_errors


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@click.command("replay")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port (default: a free one)."
)
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/replay"),
    show_default=True,
    help="pywb's working directory (config.yaml, downloaded cluster.idx files).",
)
@click.option("--url", "target", metavar="URL", help="Also print the replay URL of this page.")
@pass_context
def command(ctx: Context, port: int, workdir: Path, target: str | None) -> int:
    """Serve the archive in pywb until interrupted; prints the local URL first."""
    with usage_errors():
        cfg, _client, index = open_archive(ctx.settings)
        venv = Path(str(ctx.settings.get("ARCHIVER_REPLAY_VENV") or "var/pywb-venv")).absolute()
    # pywb runs in its working directory: every path it is given must not depend on ours.
    workdir = workdir.absolute()
    try:
        # The index first: a storage fault is reported before pywb is installed.
        config = prepare(index, workdir, collection=COLLECTION)
        click.echo(f"preparing pywb in {venv} (first use installs it)", err=True)
        bin_dir = ensure_pywb(venv)
        server = ReplayServer(bin_dir, config, port or _free_port(), pywb_environment(cfg))
        server.start()
    except ReplayError as exc:
        click.echo(f"Error: {exc}", err=True)
        return EXIT_FAILURE

    def stop(signum: int, frame: FrameType | None) -> None:
        # Unwind to the finally below, which stops pywb; SIGTERM then ends us like Ctrl-C.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    click.echo(server.url)
    if target:
        click.echo(server.replay_url(target))
    click.echo(f"pywb serves {config.runs} index run(s); Ctrl-C stops it", err=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return EXIT_OK
