"""The issuer's public keys, fetched over HTTP and cached by `kid`.

Key rotation: an unknown `kid` triggers a refetch, at most once per
`min_refetch_seconds`, so forged `kid`s cannot make us hammer the IdP. If the IdP is
down, keys already cached keep working until it is back.

One fetch at a time: a request that arrives while a fetch is in flight (the first one,
right after startup, in particular) waits for that fetch's outcome instead of being
refused or starting another.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from gantral.errors import Reason, Unauthenticated, Unavailable

__all__ = ["JwksCache"]

logger = logging.getLogger(__name__)

JWK = dict[str, Any]


class JwksCache:
    """Signing keys of one issuer. The `httpx.AsyncClient` is owned by the caller
    (opened in the API lifespan), so tests can pass one with a `MockTransport`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        issuer: str,
        jwks_url: str | None = None,
        min_refetch_seconds: float = 30.0,
        cache_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._min_refetch = min_refetch_seconds
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._keys: dict[str, JWK] = {}
        self._anonymous: list[JWK] = []
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self._fetches = 0  # completed fetch attempts, successful or not

    async def key_for(self, kid: str | None) -> JWK:
        """The JWK to verify a token whose header names `kid`."""
        if self._fetched_at is None:
            if self._may_refetch():
                await self._refresh(stale_ok=False)
            if self._fetched_at is None:  # the first fetch failed, or rate-limited
                raise Unavailable(
                    "the issuer's keys are unavailable", reason=Reason.JWKS_UNREACHABLE
                )
        elif self._clock() - self._fetched_at > self._cache_seconds and self._may_refetch():
            await self._refresh(stale_ok=True)
        key = self._lookup(kid)
        if key is None and self._may_refetch():
            await self._refresh(stale_ok=True)
            key = self._lookup(kid)
        if key is None:
            if kid is None:
                raise Unauthenticated(
                    "token has no kid and the issuer publishes several keys",
                    reason=Reason.MISSING_KID,
                )
            raise Unauthenticated(
                "token signed with a key the issuer does not publish", reason=Reason.UNKNOWN_KEY
            )
        return key

    def _lookup(self, kid: str | None) -> JWK | None:
        if kid is not None:
            return self._keys.get(kid)
        candidates = [*self._keys.values(), *self._anonymous]
        return candidates[0] if len(candidates) == 1 else None

    def _may_refetch(self) -> bool:
        if self._lock.locked():
            return True  # joining the fetch in flight costs the IdP nothing
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_refetch

    async def _refresh(self, *, stale_ok: bool) -> None:
        fetches_before = self._fetches
        async with self._lock:
            if self._fetches != fetches_before:
                # A fetch ended while we waited: its outcome is ours. If it failed, the
                # caller sees no keys (first fetch: 503) or keeps the cached ones.
                return
            self._attempted_at = self._clock()
            try:
                document = await self._get_json(await self._url())
            except Unavailable:
                self._fetches += 1
                if stale_ok:
                    logger.warning("JWKS refresh failed; keeping %d cached keys", len(self._keys))
                    return
                raise
            # Not counted when cancelled (its client left): a waiter then fetches itself.
            self._store(document)
            self._fetched_at = self._clock()
            self._fetches += 1

    def _store(self, document: dict[str, Any]) -> None:
        keys: dict[str, JWK] = {}
        anonymous: list[JWK] = []
        for jwk in document.get("keys", []):
            # Symmetric keys are never trusted from a JWKS, and encryption keys never verify.
            if not isinstance(jwk, dict) or jwk.get("kty") in (None, "oct"):
                continue
            if jwk.get("use", "sig") != "sig":
                continue
            kid = jwk.get("kid")
            if isinstance(kid, str):
                keys[kid] = jwk
            else:
                anonymous.append(jwk)
        self._keys, self._anonymous = keys, anonymous

    async def _url(self) -> str:
        if self._jwks_url is None:
            discovery = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
            config = await self._get_json(discovery)
            if config.get("issuer") != self._issuer or not isinstance(config.get("jwks_uri"), str):
                raise Unavailable(
                    "OIDC discovery document does not match the configured issuer",
                    reason=Reason.DISCOVERY_MISMATCH,
                )
            self._jwks_url = str(config["jwks_uri"])
        return self._jwks_url

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(
                f"cannot fetch {url}: {type(exc).__name__}", reason=Reason.JWKS_UNREACHABLE
            ) from exc
        if not isinstance(body, dict):
            raise Unavailable(f"{url} did not return a JSON object", reason=Reason.JWKS_UNREACHABLE)
        return body
