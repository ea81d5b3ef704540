"""A local HTTP/1.1 server for the sample news site, logging every byte it sends."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import socket
import threading
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote

from archiver import __version__
from archiver.devserver.samplesite import hostile
from archiver.devserver.samplesite.bigimage import huge_png
from archiver.devserver.samplesite.manifest import (
    CDN_ADDRESS,
    CDN_HOST,
    ERROR_PAGES,
    SITE_ROOT,
    cdn_url_for,
    content_type_for,
    entry_root,
    file_for_path,
    header_media_type,
    load_manifest,
    media_type_for_path,
    substitute,
)

logger = logging.getLogger(__name__)

SERVER_NAME = f"news-archiver-samplesite/{__version__}"
# Small enough that an article page (7-10 KB) goes out as four or five chunks.
CHUNK_SIZE = 2048
# Seconds an idle keep-alive connection is held open before the server drops it.
IDLE_TIMEOUT = 30
# Pages may change between crawls (tests edit them), so clients should revalidate soon.
CACHE_CONTROL = "max-age=60"
# Last-Modified of generated bodies (the very large image): 2026-09-01T00:00:00Z.
GENERATED_MTIME = 1788220800.0
# Times start() picks a new free port when the CDN's address has the site's port taken.
CDN_BIND_ATTEMPTS = 5


@dataclass(frozen=True)
class SentResponse:
    """One response exactly as the server wrote it to the socket."""

    method: str
    path: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    head: bytes
    wire_body: bytes
    body: bytes
    # True for the hostile corner's streamed bodies (huge, drip): their bytes are not kept.
    streamed: bool = False
    # "site", or "cdn" for a response of the CDN host.
    host: str = "site"

    def header(self, name: str) -> str | None:
        """First value of a response header, matched case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunked: bool = False
    stream: hostile.Stream | None = None
    length: int | None = None


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha1(data, usedforsecurity=False).hexdigest()[:20] + '"'


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows a gzip-coded response (RFC 9110 12.5.3)."""
    star: float | None = None
    for item in (accept_encoding or "").split(","):
        name, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        coding = name.strip().lower()
        if coding in ("gzip", "x-gzip"):
            return quality > 0
        if coding == "*":
            star = quality
    return star is not None and star > 0


def not_modified(request_headers: Message, etag: str, mtime: float) -> bool:
    """Whether a conditional GET/HEAD is answered with 304 (If-None-Match wins over If-Modified-Since)."""
    if_none_match = request_headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request_headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        return False
    return int(mtime) <= since.timestamp()


def _chunk_frames(body: bytes) -> list[bytes]:
    frames = [
        b"%x\r\n%s\r\n" % (len(piece), piece)
        for piece in (body[i : i + CHUNK_SIZE] for i in range(0, len(body), CHUNK_SIZE))
    ]
    frames.append(b"0\r\n\r\n")
    return frames


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close, so a stopped site leaves no thread behind.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self, address: tuple[str, int], site: SampleSite, root: Path, host: str = "site"
    ) -> None:
        self.site = site
        self.root = root
        # "site", or "cdn" for the CDN host's own server.
        self.host = host
        self.routes: dict[str, dict[str, dict[str, Any]]] = {"site": {}, "cdn": {}}
        for entry in load_manifest(root)["pages"]:
            self.routes[entry.get("host", "site")][entry["path"]] = entry
        self.base_url = ""
        self.cdn_url = ""
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered here, in the accept loop, so stop() sees every connection it must wake.
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def wake_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            # Already closed by the client is fine: there is nothing left to wake.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    # The head and each chunk are separate writes; with Nagle on, every response after the
    # first on a keep-alive connection would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._write(self._route(), head_only=False)

    def do_HEAD(self) -> None:
        self._write(self._route(), head_only=True)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # BaseHTTPRequestHandler calls this for bad request lines and unsupported methods; an
        # unread request body may follow, so the connection cannot be reused.
        self.close_connection = True
        status = HTTPStatus(code)
        text = f"{status.value} {status.phrase}"
        body = f"<!DOCTYPE html>\n<html><head><title>{text}</title></head><body><h1>{text}</h1></body></html>\n"
        reply = _Reply(code, [("Content-Type", "text/html; charset=utf-8")], body.encode())
        self._write(reply, head_only=self.command == "HEAD")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    # --- routing -----------------------------------------------------------------
    def _substitute(self, data: bytes) -> bytes:
        return substitute(data, self.server.base_url, self.server.cdn_url)

    def _host(self) -> str:
        """Which host a request is for: the CDN's server, or a CDN Host header, means the CDN."""
        if self.server.host == "cdn":
            return "cdn"
        name = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip().lower()
        return "cdn" if name == CDN_HOST else "site"

    def _error_page(self, status: int) -> _Reply:
        data = self._substitute((self.server.root / ERROR_PAGES[status]).read_bytes())
        return _Reply(status, [("Content-Type", "text/html; charset=utf-8")], data)

    def _redirect(self, location: str) -> _Reply:
        body = (
            "<!DOCTYPE html>\n<html><head><title>301 Moved Permanently</title></head>"
            f'<body><p>This page has moved to <a href="{location}">{location}</a>.</p></body></html>\n'
        )
        headers = [("Location", location), ("Content-Type", "text/html; charset=utf-8")]
        return _Reply(301, headers, body.encode())

    def _route(self) -> _Reply:
        target = self.path.split("#", 1)[0]
        raw_path, _, query = target.partition("?")
        path = unquote(raw_path)
        host = self._host()
        if host == "cdn":
            return self._cdn_route(path)
        if path.startswith(hostile.PREFIX):
            found = hostile.respond(path, self.server.base_url, host_port=self.server.server_port)
            if found is None:
                return self._error_page(404)
            return _Reply(
                found.status, found.headers, found.body, stream=found.stream, length=found.length
            )
        entry = self.server.routes["site"].get(path)
        kind = entry["kind"] if entry else None
        if kind == "redirect":
            assert entry is not None
            return self._redirect(self.server.base_url + entry["location"])
        if kind == "not_found":
            return self._error_page(404)
        if kind == "error":
            return self._error_page(500)
        file = file_for_path(self.server.root, path)
        if file is None or not file.is_file():
            directory = file_for_path(self.server.root, path + "/")
            if not path.endswith("/") and directory is not None and directory.is_file():
                suffix = f"?{query}" if query else ""
                return self._redirect(f"{self.server.base_url}{raw_path}/{suffix}")
            return self._error_page(404)
        return self._file_reply(file, path, entry or {})

    def _cdn_route(self, path: str) -> _Reply:
        entry = self.server.routes["cdn"].get(path)
        if entry is not None and entry.get("generated"):
            return self._bytes_reply(huge_png(), GENERATED_MTIME, path, entry)
        file = file_for_path(entry_root(self.server.root, {"host": "cdn"}), path)
        if file is None or not file.is_file():
            return self._error_page(404)
        return self._file_reply(file, path, entry or {"host": "cdn"})

    def _file_reply(self, file: Path, path: str, entry: dict[str, Any]) -> _Reply:
        return self._bytes_reply(
            self._substitute(file.read_bytes()), file.stat().st_mtime, path, entry
        )

    def _bytes_reply(self, data: bytes, mtime: float, path: str, entry: dict[str, Any]) -> _Reply:
        ctype = content_type_for(entry) if entry.get("kind") else media_type_for_path(path)
        headers = [("Content-Type", header_media_type(ctype, entry.get("charset", "utf-8")))]
        if entry.get("host") == "cdn":
            # Web fonts and scripts served cross-origin need it; real CDNs send it.
            headers.append(("Access-Control-Allow-Origin", "*"))
        if entry.get("content_encoding") == "gzip":
            headers.append(("Vary", "Accept-Encoding"))
            if accepts_gzip(self.headers.get("Accept-Encoding")):
                # mtime=0 keeps the compressed bytes, and so the ETag, stable across requests.
                data = gzip.compress(data, mtime=0)
                headers.append(("Content-Encoding", "gzip"))
        etag = _etag(data)
        headers += [
            ("Last-Modified", formatdate(mtime, usegmt=True)),
            ("ETag", etag),
            ("Cache-Control", CACHE_CONTROL),
        ]
        if not_modified(self.headers, etag, mtime):
            keep = {"etag", "last-modified", "cache-control", "vary"}
            return _Reply(304, [(k, v) for k, v in headers if k.lower() in keep])
        chunked = bool(entry.get("chunked")) and self.request_version == "HTTP/1.1"
        return _Reply(200, headers, data, chunked=chunked)

    # --- writing -------------------------------------------------------------------
    def _write(self, reply: _Reply, head_only: bool) -> None:
        status = HTTPStatus(reply.status)
        headers = [("Date", formatdate(usegmt=True)), ("Server", SERVER_NAME), *reply.headers]
        frames: list[bytes] = []
        if reply.stream is not None:
            self._write_stream(reply, headers, head_only)
            return
        if reply.status == 304:
            pass
        elif reply.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
            frames = [] if head_only else _chunk_frames(reply.body)
        else:
            # HEAD announces the length a GET would get.
            headers.append(("Content-Length", str(len(reply.body))))
            frames = [] if head_only or not reply.body else [reply.body]
        if self.close_connection:
            headers.append(("Connection", "close"))
        elif self.request_version == "HTTP/1.0":
            headers.append(("Connection", "keep-alive"))
        lines = [f"HTTP/1.1 {status.value} {status.phrase}"] + [f"{k}: {v}" for k, v in headers]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        wire = b"".join(frames)
        # Logged before the write, so a client that has read a response always finds it here.
        self.server.site._record(
            SentResponse(
                method=self.command or "",
                path=getattr(self, "path", ""),  # unset when the request line was unparseable
                status=reply.status,
                reason=status.phrase,
                headers=tuple(headers),
                head=head,
                wire_body=wire,
                body=b"" if head_only or reply.status == 304 else reply.body,
                host=self._host() if hasattr(self, "headers") else self.server.host,
            )
        )
        if reply.chunked:
            # One write per chunk, so the framing really crosses the wire piece by piece.
            self.wfile.write(head)
            for frame in frames:
                self.wfile.write(frame)
        else:
            self.wfile.write(head + wire)

    def _write_stream(self, reply: _Reply, headers: list[tuple[str, str]], head_only: bool) -> None:
        """Send a generated body piece by piece (huge or slow pages); its bytes are not logged."""
        assert reply.stream is not None
        chunked = reply.length is None
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(reply.length)))
        # The client usually gives up part way; the connection is not worth keeping.
        self.close_connection = True
        headers.append(("Connection", "close"))
        status = HTTPStatus(reply.status)
        lines = [f"HTTP/1.1 {status.value} {status.phrase}"] + [f"{k}: {v}" for k, v in headers]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.server.site._record(
            SentResponse(
                method=self.command or "",
                path=getattr(self, "path", ""),
                status=reply.status,
                reason=status.phrase,
                headers=tuple(headers),
                head=head,
                wire_body=b"",
                body=b"",
                streamed=True,
            )
        )
        try:
            self.wfile.write(head)
            if head_only:
                return
            for piece in reply.stream():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            # The client stopped reading (a size limit, a timeout): that is the point of these pages.
            logger.debug("client left during the streamed body of %s", self.path)


class SampleSite:
    """The bundled sample news site served on a local port, for `make demo` and the tests."""

    def __init__(self, root: Path | None = None) -> None:
        self._default_root = root
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._cdn_server: _Server | None = None
        self._cdn_thread: threading.Thread | None = None
        self._sent_lock = threading.Lock()
        self.sent: list[SentResponse] = []

    def start(
        self, host: str = "127.0.0.1", port: int = 0, root: Path | None = None, cdn: bool = True
    ) -> None:
        """Serve the site (root, else the constructor's root, else the bundled one) in a thread.

        With cdn, the CDN host's server listens on CDN_ADDRESS at the same port (a wildcard host
        needs none: it receives the CDN's requests itself and tells them by their Host header).
        """
        if self._server is not None:
            raise RuntimeError("the sample site is already running")
        site_root = root or self._default_root or SITE_ROOT
        for attempt in range(CDN_BIND_ATTEMPTS):
            server = _Server((host, port), self, site_root)
            bound_host, bound_port = server.server_address[:2]
            wildcard = bound_host in ("", "0.0.0.0")
            cdn_server = None
            if cdn and not wildcard:
                try:
                    cdn_server = _Server((CDN_ADDRESS, bound_port), self, site_root, host="cdn")
                except OSError:
                    server.server_close()
                    if port != 0 or attempt == CDN_BIND_ATTEMPTS - 1:
                        raise
                    continue
            break
        shown = "127.0.0.1" if wildcard else str(bound_host)
        server.base_url = f"http://{shown}:{bound_port}"
        server.cdn_url = cdn_url_for(server.base_url)
        self._server = server
        self._thread = self._serve(server, "samplesite")
        if cdn_server is not None:
            cdn_server.base_url, cdn_server.cdn_url = server.base_url, server.cdn_url
            self._cdn_server = cdn_server
            self._cdn_thread = self._serve(cdn_server, "samplesite-cdn")
        logger.info("sample site serving %s at %s", site_root, server.base_url)

    @staticmethod
    def _serve(server: _Server, name: str) -> threading.Thread:
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop serving, close open connections and wait for handler threads to finish."""
        for server, thread in ((self._server, self._thread), (self._cdn_server, self._cdn_thread)):
            if server is None:
                continue
            server.shutdown()
            server.wake_connections()
            server.server_close()
            if thread is not None:
                thread.join()
        self._server = self._thread = self._cdn_server = self._cdn_thread = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:41234."""
        if self._server is None:
            raise RuntimeError("the sample site is not running")
        return self._server.base_url

    @property
    def cdn_url(self) -> str:
        """Base URL of the CDN host, e.g. http://cdn.sample.test:41234 (the site's port)."""
        return cdn_url_for(self.url)

    @property
    def hosts(self) -> dict[str, str]:
        """Host names to map for a client: {"cdn.sample.test": "127.0.0.2"} (ARCHIVER_HOSTS)."""
        return {CDN_HOST: CDN_ADDRESS}

    @property
    def port(self) -> int:
        """TCP port the site listens on."""
        if self._server is None:
            raise RuntimeError("the sample site is not running")
        return int(self._server.server_address[1])

    @property
    def root(self) -> Path:
        """Directory the running site serves from."""
        if self._server is None:
            raise RuntimeError("the sample site is not running")
        return self._server.root

    def _record(self, response: SentResponse) -> None:
        with self._sent_lock:
            self.sent.append(response)

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
