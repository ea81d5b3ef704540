"""Scrapy settings for news-archiver: Scrapy's own, then every ARCHIVER_* setting.

Each ARCHIVER_* setting is declared here once, with its default and a one-line
comment, and documented in docs/settings.md.  Override any of them with
``-s NAME=VALUE`` on ``scrapy crawl`` or on any ``archiver`` subcommand, with
an environment variable of the same name (``ARCHIVER_S3_BUCKET=...``), or in the
settings file (``ARCHIVER_CONFIG`` or ``./archiver.toml``).
"""

from __future__ import annotations

BOT_NAME = "news-archiver"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
# `scrapy crawl` that says why a crawl cannot start in one line and exits non-zero when
# no start URL could be fetched (archiver/crawler/scrapy_commands/crawl.py).
COMMANDS_MODULE = "archiver.crawler.scrapy_commands"

# --- Politeness -------------------------------------------------------------
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
# One request in flight per server on average; AutoThrottle adapts from there.
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
CONCURRENT_REQUESTS = 16
# Never more than two requests at once to one site.
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
# Each delay varies at random by up to ±50% (RANDOMIZE_DOWNLOAD_DELAY before Scrapy 2.19).
DOWNLOAD_DELAY_JITTER = 0.5
DOWNLOAD_TIMEOUT = 60
# 50 MiB: larger responses are cut and archived with WARC-Truncated.
DOWNLOAD_MAXSIZE = 50 * 1024 * 1024
DOWNLOAD_WARNSIZE = 10 * 1024 * 1024
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 10
COOKIES_ENABLED = False
# No listening ports: a crawler on a server must not open control endpoints by default.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
# 4xx/5xx pages are archived by the capture middleware whatever this says; the
# spider only sees the ones it can use.
HTTPERROR_ALLOWED_CODES: list[int] = []
DEPTH_PRIORITY = 1
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# The capture handler keeps the bytes as they crossed the wire (see archiver/crawler/capture.py).
DOWNLOAD_HANDLERS = {
    "http": "archiver.crawler.capture.CapturingHTTPDownloadHandler",
    "https": "archiver.crawler.capture.CapturingHTTPDownloadHandler",
}
DOWNLOADER_MIDDLEWARES = {
    # After every other middleware on the way in, first on the way out: it sees
    # the response exactly as the handler produced it (still compressed, before
    # redirects and retries are acted upon).
    "archiver.crawler.middleware.WarcCaptureMiddleware": 990,
    # Page requisites: each page's byte budget, each one's size cap, their counts; before the
    # offsite filter, so the robots.txt of a CDN host is fetched (archiver/crawler/requisites.py).
    "archiver.crawler.requisites.RequisiteMiddleware": 40,
    # Scrapy's robots.txt middleware, but requests waiting for a host's robots.txt are all
    # checked against it (archiver/crawler/robots.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "archiver.crawler.robots.WaitingRobotsTxtMiddleware": 100,
}
SPIDER_MIDDLEWARES = {
    # Stops following endless chains of same-shaped links (calendars, counters).
    "archiver.crawler.traps.TrapMiddleware": 600,
}
ITEM_PIPELINES = {
    "pipelines.clean.CleanPipeline": 300,
    "pipelines.warc.WarcMetadataPipeline": 500,
}
EXTENSIONS = {
    "archiver.crawler.upload.S3UploadExtension": 500,
    "archiver.crawler.indexing.IndexExtension": 510,
    "archiver.crawler.distributed.DistributedCrawlExtension": 520,
    "archiver.crawler.progress.ProgressFile": 530,
}
# Puts the frontier in Redis when ARCHIVER_REDIS_URL is set (archiver/crawler/redis_frontier.py).
ADDONS = {"archiver.crawler.redis_frontier.RedisFrontierAddon": 0}
# Stops a crawl with an unknown ARCHIVER_* name or a bad value before anything is fetched (archiver/crawler/project.py).
ADDONS["archiver.crawler.project.SettingsCheckAddon"] = -10
# Keeps the frontier of crawls without a JOBDIR on disk unless ARCHIVER_FRONTIER=memory (archiver/crawler/frontier_addon.py).
ADDONS["archiver.crawler.frontier_addon.FrontierAddon"] = 10

# Refuses private, loopback and link-local answers before any connection (archiver/crawler/resolver.py).
TWISTED_DNS_RESOLVER = "archiver.crawler.resolver.GuardedResolver"

# --- news-archiver: network guard ----------------------------------------------
# Non-public networks (CIDRs) the crawler may connect to; empty means public addresses only.
ARCHIVER_ALLOWED_NETWORKS: list[str] = []
# Host names answered without DNS, {"name": "address"} (test and demo hosts); the address guard still applies.
ARCHIVER_HOSTS: dict[str, str] = {}

# --- news-archiver: crawler traps ------------------------------------------------
# Links continuing a chain of more than this many same-shaped pages are not followed; 0 is off.
ARCHIVER_TRAP_MAX_REPEATS = 30

# --- news-archiver: identity --------------------------------------------------
# URL where site owners can learn about the crawl and reach its operator; goes in the User-Agent.
ARCHIVER_CONTACT_URL = "https://github.com/news-archiver/news-archiver"
# Operator named in each warcinfo record (a person or organisation, optionally an e-mail).
ARCHIVER_OPERATOR = ""
# Crawl id: empty means one is generated per run as {spider}-{UTC start}-{random}.
ARCHIVER_CRAWL_ID = ""

# --- news-archiver: WARC capture ------------------------------------------------
# Turns WARC capture off entirely (nothing is archived; only for debugging spiders).
ARCHIVER_WARC_ENABLED = True
# Local spool: WARCs are written here as *.warc.gz.open, renamed on close, uploaded, then deleted.
ARCHIVER_WARC_DIR = "var/spool"
# A new WARC file is started once the current one passes this many bytes (compressed).
ARCHIVER_WARC_MAX_SIZE = 1_000_000_000
# First part of every WARC file name.
ARCHIVER_WARC_PREFIX = "news"
# Digest algorithm for WARC-Block-Digest and WARC-Payload-Digest: sha1 (base32, the common practice) or sha256.
ARCHIVER_WARC_DIGEST = "sha1"

# --- news-archiver: page requisites (docs/warc.md) -----------------------------------
# What pages' requisites are fetched: none, styles (CSS, fonts), images (plus images), all (plus scripts, icons, posters).
ARCHIVER_REQUISITES = "all"
# Fetch the requisites of every HTML page (sections too); false: article pages only.
ARCHIVER_REQUISITES_ALL_PAGES = False
# Of a srcset, fetch every candidate ("all") or only the largest ("largest").
ARCHIVER_REQUISITES_SRCSET = "all"
# A requisite larger than this is cut there and archived with WARC-Truncated: length; 0: no cap.
ARCHIVER_REQUISITE_MAX_BYTES = 20 * 1024 * 1024
# Requisites fetched for one page at most (stylesheets' own included); 0: no limit.
ARCHIVER_REQUISITES_PER_PAGE = 300
# Bytes one page's requisites may bring in all; later ones are not fetched, the last one is cut; 0: no limit.
ARCHIVER_REQUISITE_PAGE_BYTES = 50 * 1024 * 1024
# Requisite requests to one host per crawl at most, against requisite traps; 0: no limit. An
# article brings about 35 with every srcset width (the sample site), so 10,000 ran out after
# about 300 articles of one image host: this leaves room for about 3,000.
ARCHIVER_REQUISITES_PER_HOST = 100_000

# --- news-archiver: cleaning ---------------------------------------------------
# Clean article pages into title/author/date/body items (pipelines/clean.py).
ARCHIVER_CLEAN_ENABLED = True
# Worker processes for cleaning; 0 means one per CPU core, 1 cleans in a thread of the crawl process.
ARCHIVER_CLEAN_WORKERS = 0
# Directories of extra per-site rule files (site-*.toml) added to the packaged ones; empty: packaged rules only.
ARCHIVER_CLEAN_RULES_DIRS: list[str] = []

# --- news-archiver: distributed mode (docs/scaling.md) ------------------------------
# Redis URL of a frontier shared by several workers (scrapy-redis); empty: one process crawls alone.
ARCHIVER_REDIS_URL = ""
# Seconds the whole crawl must be quiet (empty queue, no response anywhere) before a worker stops.
ARCHIVER_REDIS_IDLE_TIMEOUT = 10.0

# --- news-archiver: storage (S3-compatible) ---------------------------------------
# Bucket to upload to; empty turns upload off (WARCs stay in the spool).
ARCHIVER_S3_BUCKET = ""
# Key prefix inside the bucket; keys are {prefix}/{crawl date}/{crawl id}/{file name}.
ARCHIVER_S3_PREFIX = "news-archiver"
# S3 endpoint for non-AWS servers (MinIO, SeaweedFS, Ceph, R2); empty falls back to AWS_ENDPOINT_URL, then AWS.
ARCHIVER_S3_ENDPOINT_URL = ""
# Region for SigV4 signing; empty uses the AWS chain (AWS_REGION, profile), then us-east-1.
ARCHIVER_S3_REGION = ""
# "path" works with every S3-compatible server; "virtual" for AWS-only setups that need it.
ARCHIVER_S3_ADDRESSING_STYLE = "path"
# Files at least this large go up as multipart uploads.
ARCHIVER_S3_MULTIPART_THRESHOLD = 64 * 1024 * 1024
# Part size of multipart uploads (also what the composite checksum is verified against).
ARCHIVER_S3_MULTIPART_CHUNKSIZE = 64 * 1024 * 1024
# Attempts per S3 call (botocore standard retry mode, exponential backoff).
ARCHIVER_S3_MAX_ATTEMPTS = 5
# Seconds to wait for a connection to the S3 endpoint (each attempt).
ARCHIVER_S3_CONNECT_TIMEOUT = 10.0
# Seconds to wait for the S3 endpoint's answer (each attempt); bounds a slow server with MAX_ATTEMPTS.
ARCHIVER_S3_READ_TIMEOUT = 120.0
# Parallel uploads during a crawl.
ARCHIVER_S3_UPLOAD_THREADS = 2
# Keep local files after their upload has been verified.
ARCHIVER_KEEP_LOCAL = False
# Upload what waits in the spool from earlier runs when a crawl starts.
ARCHIVER_UPLOAD_ON_START = True

# --- news-archiver: indexes and retrieval ----------------------------------------
# Write a CDXJ index beside every WARC and add each stored crawl to the archive-wide index.
ARCHIVER_INDEX_ENABLED = True
# Runs the archive-wide index may have before the smallest are merged into one.
ARCHIVER_INDEX_MAX_RUNS = 16
# Where find/get keep each index run's cluster.idx ("" = $XDG_CACHE_HOME/news-archiver).
ARCHIVER_INDEX_CACHE_DIR = ""
# Virtualenv for pywb (`archiver replay`), created on first use.
ARCHIVER_REPLAY_VENV = "var/pywb-venv"
# Where `archiver search` and `archiver serve` keep the full-text index of the article datasets.
ARCHIVER_SEARCH_CACHE_DIR = "var/search"

# --- news-archiver: `archiver serve`, the researchers' web page -------------------
# A bearer token (also ?token=) every request to `archiver serve` must carry; empty: none asked.
ARCHIVER_SERVE_TOKEN = ""
# USER:HASH entries (hash from `archiver serve --hash-password`) allowed in by HTTP basic auth.
ARCHIVER_SERVE_USERS: list[str] = []
# Rows at most in a CSV or Parquet download of a result set.
ARCHIVER_SERVE_MAX_ROWS = 10000
# Captures at most in a WACZ download of a result set.
ARCHIVER_SERVE_MAX_WACZ = 500
# pywb's collection URL as browsers reach it behind a proxy ("" = http://127.0.0.1:PORT/news/).
ARCHIVER_SERVE_REPLAY_URL = ""

# --- news-archiver: scheduled and incremental crawls --------------------------------
# The sites file (TOML) that `-a site=NAME` and `archiver crawl` read; see deploy/sites.example.toml.
ARCHIVER_SITES_FILE = "sites.toml"
# Keep each site's capture history in the spool (and in storage) and recrawl incrementally.
ARCHIVER_HISTORY_ENABLED = True
# Store a response whose payload is archived already as a revisit record (no second copy).
ARCHIVER_REVISITS_ENABLED = True
# Site crawls keep a JOBDIR in the spool, so a stopped or killed crawl resumes with its crawl id.
ARCHIVER_RESUME_ENABLED = True
# Share of failed requests (network errors, 5xx) above which a crawl counts as a problem.
ARCHIVER_CRAWL_MAX_ERROR_RATE = 0.2
# Where waiting requests are kept: "disk" (a site's JOBDIR, else {spool}/_frontier/, removed at the end) or "memory".
ARCHIVER_FRONTIER = "disk"
# Sites `archiver crawl --all` crawls at once (one process each); 1 runs them one after another.
ARCHIVER_CRAWL_PARALLEL = 1
# A JSON file the crawl rewrites each second with its live counts (pages, articles, errors); empty: none.
ARCHIVER_PROGRESS_FILE = ""

# --- The settings file ------------------------------------------------------------
# The settings file (TOML) read as settings load; only from the environment. Empty: ./archiver.toml if present.
ARCHIVER_CONFIG = ""

# --- Settings file and environment overrides --------------------------------------
# The settings file's values override the defaults above, ARCHIVER_* environment
# variables (for cron, systemd and containers) override the file, and `-s NAME=VALUE`
# on the command line overrides all (archiver/config.py; docs/settings.md).
from archiver.config import apply_sources, user_agent  # noqa: E402

apply_sources(globals())

# Names the project and how to reach the operator; rebuilt by the news spider when
# ARCHIVER_CONTACT_URL is overridden with -s.
USER_AGENT = user_agent(ARCHIVER_CONTACT_URL)
