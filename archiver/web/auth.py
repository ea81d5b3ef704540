"""Optional access control for `archiver serve` on a shared host: a bearer token and/or
HTTP basic auth with scrypt password hashes (ARCHIVER_SERVE_TOKEN, ARCHIVER_SERVE_USERS).

With neither set every request passes (the server binds 127.0.0.1 by default). A token may
come as `Authorization: Bearer T`, as `?token=T` (then kept in an HttpOnly cookie, so the
page's own links work) or in that cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_COOKIE = "archiver_token"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_PREFIX = "scrypt"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A password hash for ARCHIVER_SERVE_USERS: scrypt$SALT$HASH (hex)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"{_PREFIX}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether password matches a hash made by hash_password (False for a malformed hash)."""
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != _PREFIX:
        return False
    try:
        salt = bytes.fromhex(parts[1])
    except ValueError:
        return False
    return hmac.compare_digest(hash_password(password, salt=salt), stored)


def parse_users(entries: Iterable[str]) -> dict[str, str]:
    """USER:HASH entries as a dict; ValueError (one line) for an entry that is not one."""
    users: dict[str, str] = {}
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        user, sep, stored = entry.partition(":")
        if not sep or not user or not stored.startswith(_PREFIX + "$"):
            raise ValueError(
                "ARCHIVER_SERVE_USERS takes USER:HASH entries, the hash from "
                "`archiver serve --hash-password`"
            )
        users[user] = stored
    return users


@dataclass
class AccessPolicy:
    """Who may read: anyone (nothing set), a token holder, or a user with a password."""

    token: str = ""
    users: dict[str, str] = field(default_factory=dict)
    _verified: set[str] = field(default_factory=set)

    @property
    def open(self) -> bool:
        """True when no access control is configured."""
        return not self.token and not self.users

    def token_ok(self, presented: str) -> bool:
        """Whether presented is the configured token (compared in constant time)."""
        return bool(self.token) and hmac.compare_digest(presented.encode(), self.token.encode())

    def basic_ok(self, header_value: str) -> bool:
        """Whether a `Basic ...` credential names a user with the right password."""
        if not self.users:
            return False
        # Verified credentials are remembered (by digest): scrypt costs tens of ms a request.
        memo = hashlib.sha256(header_value.encode()).hexdigest()
        if memo in self._verified:
            return True
        try:
            decoded = base64.b64decode(header_value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        stored = self.users.get(user)
        if stored is None or not verify_password(password, stored):
            return False
        if len(self._verified) < 1024:
            self._verified.add(memo)
        return True


class AccessMiddleware:
    """ASGI middleware refusing requests without the token or a user's password (401)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.policy.open:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = (query.get("token") or [""])[0]
        if self._allowed(headers, from_query):
            if from_query and self.policy.token_ok(from_query):
                await self.app(scope, receive, _setting_cookie(send, from_query))
            else:
                await self.app(scope, receive, send)
            return
        challenge = 'Basic realm="news-archiver"' if self.policy.users else "Bearer"
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"www-authenticate", challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"authentication required\n"})

    def _allowed(self, headers: dict[str, str], from_query: str) -> bool:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and self.policy.token_ok(value.strip()):
            return True
        if scheme.lower() == "basic" and self.policy.basic_ok(value.strip()):
            return True
        if from_query and self.policy.token_ok(from_query):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no credential
            return False
        morsel = cookie.get(TOKEN_COOKIE)
        return morsel is not None and self.policy.token_ok(morsel.value)


def _setting_cookie(send: Send, token: str) -> Send:
    async def wrapped(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))  # type: ignore[call-overload]
            value = f"{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
            headers.append((b"set-cookie", value.encode("latin-1")))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped  # type: ignore[return-value]
