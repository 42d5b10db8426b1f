"""API keys and the access guard: who may call which route, and whose rate limit it spends.

Two kinds of key:

- **secret** (server to server): ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, never
  in the URL; every route.
- **publishable** (browsers, the web widget): the same headers, or ``?key=`` on GET requests
  (EventSource cannot send headers); only on routes that declare ``access="publishable"``
  (``POST``/``GET /v1/answer`` and ``GET /v1/answers/{id}[/events]``; see ``route_facts``), and
  only from a page whose ``Origin`` (or, without one, ``Referer``) matches the key's origins.
  Publishable keys cannot stop answers (``DELETE``): they are public, and an answer can be
  shared by everyone who asked the same question at once; a widget stops an answer by closing
  its stream.

Keys come from ``SEARCHQA_AUTH__SECRET_KEYS`` / ``SEARCHQA_AUTH__PUBLISHABLE_KEYS`` (whose
origins are ``SEARCHQA_AUTH__CORS_ORIGINS``) and from ``SEARCHQA_AUTH__KEYS_FILE`` (TOML
``[[keys]]`` tables, or JSON ``{"keys": [...]}``: ``key``, ``kind``, ``name``, ``origins``,
``rate_limit``). A key may be given raw or as ``sha256:<hex>`` (``python -m searchqa.api.auth
hash``), so raw keys need never sit on disk. Only SHA-256 digests are kept in memory, compared in
constant time; keys are never logged. With no keys at all the service is open (and says so at
startup). Always open: routes declaring ``access="open"`` (``/healthz``, ``/readyz``,
``/schema``), and ``"operator"`` ones (``/metrics``) unless ``SEARCHQA_AUTH__PROTECT_METRICS``.

Refusals are problem details: 401 with ``WWW-Authenticate: Bearer`` for a missing, unknown or
misplaced key; 403 for a publishable key from another origin or on another route (OpenAI's error
shape on the OpenAI-compatible routes, whose error handlers keep it; the headers stay).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import re
import secrets
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import BeforeMessageSendHookHandler
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from searchqa.api.cors import cors_config, origin_allowed, request_origin
from searchqa.api.ratelimit import (
    RateBucket,
    TrustedProxies,
    add_access_headers,
    client_address,
    leave_headers,
    spend,
)
from searchqa.api.route_facts import Access, access_of, generates
from searchqa.api.sse import parse_event_id
from searchqa.errors import InvalidRequestError
from searchqa.settings import AuthSettings

KeyKind = Literal["secret", "publishable"]
Connection = ASGIConnection[Any, Any, Any, Any]

HASH_PREFIX = "sha256:"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger(__name__)


def hash_key(raw: str) -> str:
    """``sha256:<hex>``: what to store instead of the key."""
    return HASH_PREFIX + hashlib.sha256(raw.encode()).hexdigest()


def _digest(entry: str, *, where: str) -> str:
    if not entry.startswith(HASH_PREFIX):
        return hashlib.sha256(entry.encode()).hexdigest()
    digest = entry.removeprefix(HASH_PREFIX).strip().lower()
    if not _HEX_DIGEST.fullmatch(digest):
        raise InvalidRequestError(f"{where}: a sha256: key needs 64 hex digits", code="bad_keys")
    return digest


@dataclass(frozen=True)
class ApiKey:
    """One key, known by its SHA-256 digest."""

    digest: str = field(repr=False)
    kind: KeyKind
    name: str
    origins: tuple[str, ...] = ()
    rate_limit: int | None = None
    """Requests per window; None = the default of its kind, 0 = unlimited."""


class KeyRing:
    """The configured keys."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self.keys = tuple(keys)
        names: dict[str, str] = {}
        for key in self.keys:
            if key.digest in names:
                raise InvalidRequestError(
                    f"keys {names[key.digest]!r} and {key.name!r} are the same key",
                    code="bad_keys",
                )
            names[key.digest] = key.name

    def __bool__(self) -> bool:
        return bool(self.keys)

    def lookup(self, raw: str) -> ApiKey | None:
        """The key ``raw`` is, comparing every digest in constant time."""
        digest = hashlib.sha256(raw.encode()).hexdigest()
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found

    def count(self, kind: KeyKind) -> int:
        return sum(key.kind == kind for key in self.keys)


class KeyEntry(BaseModel):
    """One key in a keys file."""

    model_config = ConfigDict(extra="forbid")

    key: SecretStr
    kind: KeyKind = "secret"
    name: str | None = None
    origins: list[str] | None = None
    rate_limit: int | None = Field(default=None, ge=0)


def read_keys_file(path: Path, *, default_origins: Sequence[str] = ()) -> list[ApiKey]:
    """Keys from a TOML (``[[keys]]``) or JSON (``{"keys": [...]}`` or a list) file."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise InvalidRequestError(f"keys file {path}: {exc}", code="bad_keys") from exc
    entries = data.get("keys", []) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise InvalidRequestError(f"keys file {path}: keys must be a list", code="bad_keys")
    keys = []
    for number, item in enumerate(entries, 1):
        where = f"keys file {path}, key {number}"
        try:
            entry = KeyEntry.model_validate(item)
        except ValidationError as exc:  # messages only: inputs may hold the key itself
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'entry'}: {err['msg']}" for err in exc.errors()
            )
            raise InvalidRequestError(f"{where}: {problems}", code="bad_keys") from None
        origins = entry.origins if entry.origins is not None else default_origins
        keys.append(
            ApiKey(
                _digest(entry.key.get_secret_value(), where=where),
                entry.kind,
                entry.name or f"{path.name}#{number}",
                tuple(origins) if entry.kind == "publishable" else (),
                entry.rate_limit,
            )
        )
    return keys


def load_keys(settings: AuthSettings) -> KeyRing:
    """Every key from the settings and the keys file; raises on a malformed one."""
    origins = tuple(settings.cors_origins)
    sources: list[tuple[KeyKind, list[SecretStr]]] = [
        ("secret", settings.secret_keys),
        ("publishable", settings.publishable_keys),
    ]
    keys = [
        ApiKey(
            _digest(raw.get_secret_value(), where=f"SEARCHQA_AUTH__{kind.upper()}_KEYS"),
            kind,
            f"{kind}-{number}",
            origins if kind == "publishable" else (),
        )
        for kind, values in sources
        for number, raw in enumerate(values, 1)
    ]
    if settings.keys_file is not None:
        keys += read_keys_file(settings.keys_file, default_origins=origins)
    return KeyRing(keys)


def presented_key(connection: Connection) -> tuple[str | None, bool]:
    """The key a request carries, and whether it came in the URL."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), False
    header = connection.headers.get("x-api-key", "").strip()
    if header:
        return header, False
    query = connection.query_params.get("key") if connection.scope.get("method") == "GET" else None
    return (query, True) if query else (None, False)


def _unauthorized(connection: Connection, detail: str, error: str | None = None) -> Exception:
    challenge = 'Bearer realm="searchqa"' + (f', error="{error}"' if error else "")
    headers = {"WWW-Authenticate": challenge}
    leave_headers(connection.scope, headers)
    return NotAuthorizedException(detail=detail, headers=headers)


async def _resumes(connection: Connection) -> bool:
    """A GET whose ``Last-Event-ID`` names a live answer: a reconnect, not a new answer."""
    position = parse_event_id(connection.headers.get("last-event-id"))
    sessions = connection.app.state.get("sessions")
    return (
        position is not None and sessions is not None and await sessions.exists(position.stream_id)
    )


class AccessGuard:
    """Litestar guard: authenticates the key, checks the route and origin, spends the limit."""

    def __init__(self, settings: AuthSettings, keys: KeyRing) -> None:
        self._settings = settings
        self._keys = keys
        self._proxies = TrustedProxies(settings.trusted_proxies)

    def access(self, handler: BaseRouteHandler) -> Access:
        """Who may call ``handler``, as it declares (``operator``: by the metrics setting)."""
        access = access_of(handler)
        if access == "operator":
            return "secret" if self._settings.protect_metrics else "open"
        return access

    async def __call__(self, connection: Connection, handler: BaseRouteHandler) -> None:
        if connection.scope.get("method") == "OPTIONS":
            return
        access = self.access(handler)
        if access == "open":
            return
        key = self.authenticate(connection, access) if self._keys else None
        limiter = connection.app.state.get("limiter")
        if not generates(handler) or limiter is None:
            return
        if not await _resumes(connection):
            bucket = self.bucket(connection, key)
            await spend(connection, limiter, bucket, window_s=self._settings.rate_window_s)

    def authenticate(self, connection: Connection, access: Access) -> ApiKey:
        raw, in_url = presented_key(connection)
        if raw is None:
            raise _unauthorized(
                connection, "an API key is required: Authorization: Bearer <key> or X-API-Key"
            )
        key = self._keys.lookup(raw)
        if key is None:
            raise _unauthorized(connection, "the API key is not valid", "invalid_token")
        if key.kind == "secret":
            if in_url:
                raise _unauthorized(
                    connection,
                    "secret keys are accepted in headers only, never in the URL",
                    "invalid_request",
                )
            return key
        if access != "publishable":
            raise PermissionDeniedException(
                detail="publishable keys may only start and read answers "
                "(/v1/answer, /v1/answers/{id}); this route needs a secret key"
            )
        origin = request_origin(connection.headers)
        if not origin_allowed(origin, key.origins):
            where = f"from {origin}" if origin else "without an Origin or Referer header"
            raise PermissionDeniedException(detail=f"this key may not be used {where}")
        return key

    def bucket(self, connection: Connection, key: ApiKey | None) -> RateBucket:
        """Secret keys have one budget; publishable keys one per client address."""
        address = client_address(connection, self._proxies)
        settings = self._settings
        if key is None:
            return RateBucket(f"address:{address}", settings.anonymous_rate_limit)
        if key.kind == "secret":
            limit = settings.secret_rate_limit if key.rate_limit is None else key.rate_limit
            return RateBucket(f"key:{key.digest}", limit)
        limit = settings.publishable_rate_limit if key.rate_limit is None else key.rate_limit
        return RateBucket(f"key:{key.digest}:address:{address}", limit)


@dataclass
class AccessControl:
    """What ``create_app`` installs: the guard, the CORS config and the header hook."""

    keys: KeyRing
    guard: AccessGuard
    cors: CORSConfig | None
    before_send: list[BeforeMessageSendHookHandler] = field(
        default_factory=lambda: [add_access_headers]
    )

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> AccessControl:
        """Reads the keys file; raises InvalidRequestError on a malformed setting or file."""
        keys = load_keys(settings)
        key_origins = [origin for key in keys.keys for origin in key.origins]
        origins = list(dict.fromkeys([*settings.cors_origins, *key_origins]))
        return cls(keys, AccessGuard(settings, keys), cors_config(origins))

    def announce(self) -> None:
        """Log at startup how the service is protected (never the keys)."""
        if not self.keys:
            log.warning(
                "no API keys configured: anyone who can reach this server may use it; set "
                "SEARCHQA_AUTH__SECRET_KEYS or SEARCHQA_AUTH__KEYS_FILE"
            )
            return
        log.info(
            "API keys: %d secret, %d publishable",
            self.keys.count("secret"),
            self.keys.count("publishable"),
        )
        for key in self.keys.keys:
            if key.kind == "publishable" and not key.origins:
                log.warning("publishable key %r has no origins: it is refused everywhere", key.name)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m searchqa.api.auth hash [KEY]`` and ``... new [--publishable]``."""
    parser = argparse.ArgumentParser(
        prog="python -m searchqa.api.auth", description="API keys for SEARCHQA_AUTH__*"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    hash_command = commands.add_parser("hash", help="print sha256:<hex> of a key")
    hash_command.add_argument(
        "key", nargs="?", help="the key; read from standard input when left out"
    )
    new = commands.add_parser("new", help="make a random key; print it and its hash")
    new.add_argument("--publishable", action="store_true", help="a browser key (pk_...)")
    args = parser.parse_args(argv)
    if args.command == "hash":
        raw = args.key if args.key is not None else sys.stdin.readline().strip()
        if not raw:
            parser.error("the key is empty")
        print(hash_key(raw))
    else:
        raw = ("pk_" if args.publishable else "sk_") + secrets.token_urlsafe(32)
        print(f"key:  {raw}\nhash: {hash_key(raw)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
