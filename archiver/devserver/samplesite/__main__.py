"""`python -m archiver.devserver.samplesite`: serve the sample site in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from archiver.devserver.samplesite.server import SampleSite
from archiver.devserver.stopsignal import StopSignal


def main(argv: list[str] | None = None) -> int:
    """Serve the site; the first line on stdout is its base URL."""
    parser = argparse.ArgumentParser(
        prog="python -m archiver.devserver.samplesite",
        description="Serve the bundled sample news site.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--root", type=Path, default=None, help="serve this copy of the site instead"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    stop = StopSignal()
    site = SampleSite()
    try:
        site.start(host=args.host, port=args.port, root=args.root)
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    # Scripts read the first line to learn the port, so it must not wait in a buffer.
    print(site.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
