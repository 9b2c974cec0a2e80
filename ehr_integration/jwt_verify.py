"""Verification of the JWT an EHR sends with every CDS Hooks call (CDS Hooks 2.0 §Security).

Rules enforced, each answered with the same generic 401 (the reason only goes to the log):
asymmetric algorithms only and only those the client is registered for; `iss` registered and
active; signature against the client's pinned JWKS or a JWKS fetched from an allowlisted `jku`;
`aud` equal to the exact endpoint URL built from CDS_PUBLIC_BASE_URL; `exp`, `iat` present with
leeway and a maximum lifetime; `jti` never seen before (database unique constraint, so it holds
across worker processes); `tenant` as registered.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from ehr_integration.models import EhrClient, SeenJti

logger = logging.getLogger(__name__)

ASYMMETRIC_PREFIXES = ("ES", "RS", "PS", "Ed")
MAX_TOKEN_BYTES = 16 * 1024


class JwtRejected(Exception):
    """The token is not acceptable; `reason` is a short code for logs, never for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedCaller:
    """Who called, as proven by a verified JWT."""

    client_id: str
    issuer: str
    tenant: str
    jti: str
    enabled_services: tuple[str, ...]
    fhir_base_url: str

    @property
    def is_authenticated(self) -> bool:  # lets DRF's IsAuthenticated accept it
        return True


def _b64_json(segment: bytes) -> dict[str, Any]:
    import base64

    padded = segment + b"=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(value, dict):
        raise JwtRejected("payload_not_object")
    return value


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise JwtRejected("malformed_token")
    try:
        compact = extract_compact(token.encode("ascii"))
        header = dict(compact.headers())
        payload = _b64_json(token.split(".")[1].encode("ascii"))
    except (JoseError, ValueError, UnicodeError) as exc:
        raise JwtRejected("malformed_token") from exc
    return header, payload


def jwks_fetch(url: str) -> dict[str, Any]:
    """Fetch a JWKS from an allowlisted URL: timeout, no redirects, size cap, cached."""
    hooks = settings.CDS_HOOKS
    cache_key = f"jwks:{url}"
    cached = cache.get(cache_key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    limit = int(hooks["JWKS_MAX_BYTES"])
    try:
        with requests.get(
            url,
            timeout=hooks["JWKS_FETCH_TIMEOUT_SECONDS"],
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/json"},
        ) as response:
            if response.status_code != 200:
                raise JwtRejected("jwks_fetch_status")
            body = response.raw.read(limit + 1, decode_content=True)
    except requests.RequestException as exc:
        raise JwtRejected("jwks_fetch_failed") from exc
    if len(body) > limit:
        raise JwtRejected("jwks_too_large")
    try:
        jwks = json.loads(body)
    except ValueError as exc:
        raise JwtRejected("jwks_not_json") from exc
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise JwtRejected("jwks_malformed")
    cache.set(cache_key, jwks, hooks["JWKS_CACHE_SECONDS"])
    return jwks


def _public_keys(client: EhrClient, header: dict[str, Any]) -> KeySet:
    keys: list[dict[str, Any]] = []
    if client.jwks:
        keys.extend(client.jwks.get("keys", []))
    jku = header.get("jku")
    # A jku that is not allowlisted is never fetched (SSRF and key-injection guard); the
    # signature must then verify against the pinned keys alone.
    if isinstance(jku, str) and jku in (client.jku_allowlist or []):
        keys.extend(jwks_fetch(jku)["keys"])
    public = [k for k in keys if isinstance(k, dict) and k.get("kty") != "oct" and "d" not in k]
    if not public:
        raise JwtRejected("no_public_keys")
    return _keyset_import(json.dumps(public, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _keyset_import(public_json: str) -> KeySet:
    """Parsing EC/RSA keys costs about a millisecond per call; keyed by the exact key
    material, a cached KeySet can never outlive a key change in the registry."""
    try:
        return KeySet.import_key_set({"keys": json.loads(public_json)})
    except (JoseError, ValueError, TypeError) as exc:
        raise JwtRejected("bad_registered_keys") from exc


def _signature_verify(token: str, keyset: KeySet, alg: str, kid: Any) -> dict[str, Any]:
    candidates = [k for k in keyset.keys if kid is None or k.kid == kid]
    for key in candidates:
        try:
            return dict(jwt.decode(token, key, algorithms=[alg]).claims)
        except (JoseError, ValueError, TypeError):
            continue
    raise JwtRejected("bad_signature")


def _numeric(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JwtRejected(f"missing_{name}")
    return float(value)


def clock_now() -> float:
    """The verifier's clock. One seam so tests can replay recorded (expired) tokens with a
    frozen clock without patching the global `time` module."""
    return time.time()


def jwt_verify(*, token: str, audience: str, now: float | None = None) -> VerifiedCaller:
    """Verify `token` for a call to `audience` (the exact endpoint URL). Raises JwtRejected."""
    hooks = settings.CDS_HOOKS
    now = clock_now() if now is None else now
    header, unverified = _unverified_parts(token)

    alg = header.get("alg")
    if not isinstance(alg, str) or not alg.startswith(ASYMMETRIC_PREFIXES):
        raise JwtRejected("alg_not_asymmetric")
    if alg not in hooks["JWT_ALGORITHMS"]:
        raise JwtRejected("alg_not_allowed")
    if header.get("typ") not in (None, "JWT"):
        raise JwtRejected("bad_typ")

    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise JwtRejected("missing_iss")
    try:
        client = EhrClient.objects.get(issuer=issuer, is_active=True)
    except EhrClient.DoesNotExist:
        raise JwtRejected("unknown_iss") from None
    if alg not in (client.allowed_algorithms or []):
        raise JwtRejected("alg_not_allowed_for_client")

    claims = _signature_verify(token, _public_keys(client, header), alg, header.get("kid"))

    leeway = hooks["JWT_LEEWAY_SECONDS"]
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise JwtRejected("wrong_aud")
    exp, iat = _numeric(claims, "exp"), _numeric(claims, "iat")
    if exp < now - leeway:
        raise JwtRejected("expired")
    if iat > now + leeway:
        raise JwtRejected("iat_in_future")
    if exp - iat > hooks["JWT_MAX_LIFETIME_SECONDS"] or exp < iat:
        raise JwtRejected("lifetime_too_long")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise JwtRejected("missing_jti")
    tenant = claims.get("tenant")
    if client.tenant:
        if tenant != client.tenant:
            raise JwtRejected("wrong_tenant")
    elif tenant not in (None, ""):
        raise JwtRejected("unexpected_tenant")

    jti_remember(issuer=issuer, jti=jti, expires_at=exp + leeway, now=now)
    return VerifiedCaller(
        client_id=str(client.id),
        issuer=issuer,
        tenant=client.tenant,
        jti=jti,
        enabled_services=tuple(client.enabled_services or ()),
        fhir_base_url=client.fhir_base_url,
    )


def jti_remember(*, issuer: str, jti: str, expires_at: float, now: float) -> None:
    """Record a jti; a second use of the same (iss, jti) raises. Expired rows are pruned."""
    expiry = dt.datetime.fromtimestamp(expires_at, tz=dt.UTC)
    try:
        with transaction.atomic():
            SeenJti.objects.create(issuer=issuer, jti=jti, expires_at=expiry)
    except IntegrityError as exc:
        raise JwtRejected("replayed_jti") from exc
    # Pruning is cheap on the expires_at index; doing it now and then keeps the table small.
    if hash(jti) % 64 == 0:
        SeenJti.objects.filter(expires_at__lt=dt.datetime.fromtimestamp(now, tz=dt.UTC)).delete()
