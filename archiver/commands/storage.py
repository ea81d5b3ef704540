"""`archiver storage`: local S3 storage as a user keeps it, until Ctrl-C.

Runs the embedded SeaweedFS (python -m archiver.devserver.s3server, bound to 127.0.0.1,
telemetry off) as a child process: a fixed port, a data directory kept across runs, keys
generated once and kept in the directory (credentials.env, mode 0600), the bucket created.
It prints the lines to paste into the shell that runs archiver; with --write-config it
also puts the endpoint and the bucket in the settings file (./archiver.toml), which every
command reads.  The keys are never settings: they stay in credentials.env.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import click

from archiver.commands._base import ConfigurationError, Context, pass_context
from archiver.config import CONFIG_FILE, settings_file

# SeaweedFS's own default S3 port.
DEFAULT_PORT = 8333
DEFAULT_BUCKET = "news-archive"


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/news-archiver/s3 (~/.local/share/news-archiver/s3 by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "news-archiver" / "s3"


def write_config(path: Path, values: dict[str, str]) -> list[str]:
    """Add the settings to a TOML settings file; the names added (the same values: none).

    A setting the file already gives another value is a ConfigurationError: the file is the
    user's, and is never rewritten.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read the settings file: {exc}") from None
    clash = [n for n, v in values.items() if n in doc and doc[n] != v]
    if clash:
        given = ", ".join(f"{n} = {doc[n]!r}" for n in clash)
        raise ConfigurationError(f"{path} already sets {given}: change or remove it first")
    added = [n for n in values if n not in doc]
    if added:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        lines = [f"{n} = {json.dumps(values[n])}" for n in added]
        head = "" if not text or text.endswith("\n") else "\n"
        lines.insert(0, f"{head}# Local storage of `archiver storage` (keys: credentials.env).")
        path.write_text(text + "\n".join(lines) + "\n", encoding="utf-8")
    return added


@click.command("storage")
@click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory, kept across runs (default: $XDG_DATA_HOME/news-archiver/s3).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 55535),
    default=DEFAULT_PORT,
    show_default=True,
    help="S3 port on 127.0.0.1 (its gRPC twin, PORT+10000, must be free too).",
)
@click.option(
    "--bucket",
    default=None,
    help=f"Bucket to create (default: ARCHIVER_S3_BUCKET, else {DEFAULT_BUCKET}).",
)
@click.option(
    "--write-config",
    "write_config_",
    is_flag=True,
    help=f"Also set the endpoint and bucket in the settings file (./{CONFIG_FILE}).",
)
@pass_context
def command(
    ctx: Context, data_dir: Path | None, port: int, bucket: str | None, write_config_: bool
) -> int:
    """Run local S3 storage (SeaweedFS) until Ctrl-C; print the settings to paste."""
    bucket = bucket or str(ctx.settings.get("ARCHIVER_S3_BUCKET") or "") or DEFAULT_BUCKET
    where = (data_dir or default_data_dir()).resolve()
    if write_config_:
        path = settings_file() or Path(CONFIG_FILE).resolve()
        values = {
            "ARCHIVER_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "ARCHIVER_S3_BUCKET": bucket,
        }
        added = write_config(path, values)
        what = ", ".join(added) if added else "nothing to add"
        click.echo(f"settings file {path}: {what}", err=True)
    # The keys kept in the data directory, not those of whatever shell this runs in.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    }
    argv = [sys.executable, "-m", "archiver.devserver.s3server", "--dir", str(where)]
    argv += ["--port", str(port), "--bucket", bucket, "--paste"]
    proc = subprocess.Popen(argv, env=env)

    def forward(signum: int, _frame: object) -> None:
        # A terminal's Ctrl-C reaches the server too; a SIGTERM to this command is passed on.
        proc.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
