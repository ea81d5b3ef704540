"""news-archiver: crawl news sites into verified WARC archives with clean article text."""

from __future__ import annotations

__version__ = "0.1.0"
SOFTWARE = f"news-archiver/{__version__}"
