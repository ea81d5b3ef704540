"""`archiver crawl` as its tests run it: the command line, and a sites file of four sites."""

from __future__ import annotations

import sys
from pathlib import Path

from archiver.devserver.samplesite.manifest import CDN_ADDRESS, CDN_HOST


def archiver(*args: str, spool: Path, sites: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """`python -m archiver ARGS` with this sites file and spool, delays lowered for a local site."""
    command = [sys.executable, "-m", "archiver"]
    for setting in (
        f"ARCHIVER_SITES_FILE={sites}",
        f"ARCHIVER_WARC_DIR={spool}",
        "ARCHIVER_CLEAN_WORKERS=1",
        "ARCHIVER_ALLOWED_NETWORKS=127.0.0.0/8",
        # The sample site's CDN host (page requisites), answered without DNS.
        f'ARCHIVER_HOSTS={{"{CDN_HOST}": "{CDN_ADDRESS}"}}',
        "AUTOTHROTTLE_START_DELAY=0.01",
        *extra,
    ):
        command += ["-s", setting]
    return [*command, *args]


def sites_file(path: Path, url: str, dead: str = "http://127.0.0.1:9") -> Path:
    """A sites file: the sample site at url, one site with no article, one down, one off."""
    path.write_text(
        f"""
[sites.sample]
start_urls = ["{url}/"]

[sites.empty]
# Answers 404, and the limit keeps the sitemaps robots.txt lists out: no article to find.
start_urls = ["{url}/news/2026/10/01/minister-quits-over-expenses-claims.html"]
max_pages = 1

[sites.broken]
# Down: every request fails.
start_urls = ["{dead}/"]
min_articles = 0

[sites.off]
start_urls = ["{url}/world/"]
enabled = false
""",
        encoding="utf-8",
    )
    return path
