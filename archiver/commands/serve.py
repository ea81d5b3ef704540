"""`archiver serve`: the researchers' web page over the archive, with replay in pywb.

Syncs the local search index from the article datasets in storage, starts pywb on its own
port when its virtualenv is installed (a separate origin, so archived scripts never run in
the page's), prints the page's URL first, and serves until Ctrl-C or SIGTERM. Read-only:
read-only storage keys suffice.
"""

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
    open_archive,
    prepare,
    pywb_environment,
)
from archiver.access.replay import READY_STAMP
from archiver.commands._base import EXIT_FAILURE, EXIT_OK, Context, pass_context, usage_errors
from archiver.commands._errors import CommandError
from archiver.search import SearchIndex, SearchIndexBusy
from archiver.web import AccessPolicy, WebConfig, create_app, hash_password, parse_users

DEFAULT_PORT = 8765


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (OSError when taken or not ours to bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="Port."
)
@click.option(
    "--replay-port",
    type=click.IntRange(0, 65535),
    default=0,
    help="pywb's port, another origin than the page's (default: a free one).",
)
@click.option(
    "--no-sync", is_flag=True, help="Serve the search index as it is, without listing storage."
)
@click.option(
    "--hash-password",
    "hash_password_",
    is_flag=True,
    help="Ask for a password and print its hash for ARCHIVER_SERVE_USERS, then exit.",
)
@pass_context
def command(
    ctx: Context, host: str, port: int, replay_port: int, no_sync: bool, hash_password_: bool
) -> int:
    """Serve the web page for researchers: search, read, cite, replay and download."""
    if hash_password_:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
        click.echo(hash_password(password))
        return EXIT_OK
    settings = ctx.settings
    with usage_errors():
        cfg, client, archive = open_archive(settings)
        access = AccessPolicy(
            token=str(settings.get("ARCHIVER_SERVE_TOKEN") or ""),
            users=parse_users(settings.getlist("ARCHIVER_SERVE_USERS")),
        )
        cache = Path(str(settings.get("ARCHIVER_SEARCH_CACHE_DIR") or "var/search")).absolute()
        venv = Path(str(settings.get("ARCHIVER_REPLAY_VENV") or "var/pywb-venv")).absolute()
        max_rows = settings.getint("ARCHIVER_SERVE_MAX_ROWS")
        max_wacz = settings.getint("ARCHIVER_SERVE_MAX_WACZ")
        public_replay = str(settings.get("ARCHIVER_SERVE_REPLAY_URL") or "")
    if not no_sync:
        with SearchIndex.open(cache) as index:
            try:
                report = index.sync(client, cfg.bucket, cfg.prefix)
            except SearchIndexBusy as exc:
                # Another archiver is updating the same cache (a search, or a second serve).
                raise CommandError(f"{exc} (or start with --no-sync)") from None
            count = index.article_count()
        click.echo(
            f"search index: {count} article(s); read {report.datasets_read} of "
            f"{report.datasets_seen} dataset(s), dropped {report.datasets_dropped} "
            f"({report.seconds:.1f} s)",
            err=True,
        )
    try:
        sock = _bind(host, port)
    except OSError as exc:
        click.echo(f"Error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        return EXIT_FAILURE
    replay: ReplayServer | None = None
    bin_dir = venv / "bin"
    if (venv / READY_STAMP).exists() and (bin_dir / "wayback").exists():
        try:
            config = prepare(archive, Path("var/serve-replay").absolute(), collection=COLLECTION)
            replay = ReplayServer(
                bin_dir, config, replay_port or _free_port(), pywb_environment(cfg)
            )
            replay.start()
        except ReplayError as exc:
            click.echo(f"replay is off: {exc}", err=True)
            replay = None
    else:
        click.echo(
            f"replay is off: pywb is not installed in {venv} (`archiver replay` installs it)",
            err=True,
        )
    app = create_app(
        WebConfig(
            open_index=lambda: SearchIndex.open(cache),
            archive=archive,
            replay_base=(public_replay or replay.url) if replay else None,
            replay_venv=str(venv),
            access=access,
            max_rows=max_rows,
            max_wacz_captures=max_wacz,
        )
    )
    click.echo(_url(host, sock.getsockname()[1]))
    if access.open and host not in ("127.0.0.1", "::1", "localhost"):
        click.echo(
            "warning: serving beyond this machine without access control "
            "(set ARCHIVER_SERVE_TOKEN or ARCHIVER_SERVE_USERS)",
            err=True,
        )
    if replay is not None:
        click.echo(f"replay in pywb at {replay.url}", err=True)
    click.echo("Ctrl-C stops it", err=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        # uvicorn handles SIGTERM while it serves, then raises it again once stopped: this
        # handler ends us then, as Ctrl-C does, with exit code 0.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        _run(app, sock, ctx.verbose)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if replay is not None:
            replay.stop()
    return EXIT_OK


def _run(app: object, sock: socket.socket, verbose: int) -> None:
    """uvicorn on the bound socket; it stops on SIGINT and SIGTERM, after open requests end."""
    import uvicorn

    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_level="info" if verbose else "warning",
        access_log=verbose > 0,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock])
