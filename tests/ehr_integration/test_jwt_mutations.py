"""Over a hundred mutated JWTs, each refused with the identical 401 body and
WWW-Authenticate; the same call with an honest token is answered 200 (so the test can fail).

Personas: the trusted EHR (pinned ES384 key), a tenant EHR (same key, tenant "t-1"), a
jku EHR (keys fetched from a loopback JWKS server it allowlisted), and an outsider (its own
key, same kid)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.conftest import BASE, patient_view_body
from tests.loopback import Loopback, loopback_server

pytestmark = pytest.mark.django_db

PATH = "/cds-services/diabetes-therapy"
GENERIC_401 = {"error": "unauthorized", "message": "Authentication failed.", "details": None}
WWW_AUTHENTICATE = 'Bearer realm="cds-hooks"'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(obj: Any) -> str:
    return _b64(json.dumps(obj).encode())


@dataclass
class Ctx:
    api: Any
    make: Callable[..., str]
    key: ECKey
    outsider: ECKey
    rsa: RSAKey
    p256: ECKey
    jwks_server: Loopback
    jku_url: str

    def claims(self, **over: Any) -> dict[str, Any]:
        now = int(time.time())
        out = {
            "iss": "https://ehr.example.org",
            "aud": BASE + PATH,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        out.update(over)
        return {k: v for k, v in out.items() if v is not None}

    def raw(self, header: dict[str, Any], claims: dict[str, Any], sig: bytes = b"") -> str:
        return f"{_b64json(header)}.{_b64json(claims)}.{_b64(sig)}"

    def hmac_token(self, alg: str, secret: bytes) -> str:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        header = {"alg": alg, "typ": "JWT", "kid": "trusted-ehr-1"}
        signing = f"{_b64json(header)}.{_b64json(self.claims())}"
        return f"{signing}.{_b64(hmac.new(secret, signing.encode(), digest).digest())}"

    def signed(
        self, key: Any, alg: str, header: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        hdr = {"alg": alg, "typ": "JWT", **(header or {})}
        return jwt.encode(hdr, self.claims(**claims), key, algorithms=[alg])

    def call(self, token: str, path: str = PATH) -> Any:
        return self.api.post(
            path, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )


Mutation = Callable[[Ctx], str]  # returns the full Authorization header value


def bearer(build: Callable[[Ctx], str]) -> Mutation:
    return lambda c: f"Bearer {build(c)}"


def _replayed(c: Ctx) -> str:
    token = c.make(PATH)
    assert c.call(token).status_code == 200
    return f"Bearer {token}"


def _replayed_new_token_same_jti(c: Ctx) -> str:
    jti = str(uuid.uuid4())
    assert c.call(c.make(PATH, jti=jti)).status_code == 200
    return f"Bearer {c.make(PATH, jti=jti)}"


def _replayed_jti_from_other_endpoint(c: Ctx) -> str:
    jti = str(uuid.uuid4())
    other = "/cds-services/statin-therapy"
    assert c.call(c.make(other, jti=jti), path=other).status_code == 200
    return f"Bearer {c.make(PATH, jti=jti)}"


def _tampered_payload(c: Ctx) -> str:
    h, _, s = c.make(PATH).split(".")
    return f"Bearer {h}.{_b64json(c.claims(iss='https://ehr.example.org', sub='admin'))}.{s}"


def _flip_signature(c: Ctx) -> str:
    h, p, s = c.make(PATH).split(".")
    raw = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    raw[0] ^= 1
    return f"Bearer {h}.{p}.{_b64(bytes(raw))}"


def _pem(c: Ctx) -> bytes:
    return c.key.as_pem(private=False)


MUTATIONS: dict[str, Mutation] = {}

# alg none and unsigned tokens
for _alg in ("none", "None", "NONE", "nOnE"):
    for _sig in (b"", b"sig"):
        MUTATIONS[f"alg-{_alg}-sig{len(_sig)}"] = bearer(
            lambda c, a=_alg, s=_sig: c.raw({"alg": a, "typ": "JWT"}, c.claims(), s)
        )
MUTATIONS["alg-missing"] = bearer(lambda c: c.raw({"typ": "JWT"}, c.claims()))
MUTATIONS["alg-null"] = bearer(lambda c: c.raw({"alg": None, "typ": "JWT"}, c.claims()))
MUTATIONS["alg-list"] = bearer(lambda c: c.raw({"alg": ["ES384"]}, c.claims(), b"x" * 96))

# HMAC with the public key as the shared secret (key confusion)
for _alg in ("HS256", "HS384", "HS512"):
    MUTATIONS[f"{_alg}-public-pem"] = bearer(lambda c, a=_alg: c.hmac_token(a, _pem(c)))
    MUTATIONS[f"{_alg}-public-jwk-json"] = bearer(
        lambda c, a=_alg: c.hmac_token(a, json.dumps(c.key.as_dict(private=False)).encode())
    )
    MUTATIONS[f"{_alg}-x-coordinate"] = bearer(
        lambda c, a=_alg: c.hmac_token(a, c.key.as_dict(private=False)["x"].encode())
    )
    MUTATIONS[f"{_alg}-empty-secret"] = bearer(lambda c, a=_alg: c.hmac_token(a, b""))

# wrong key / algorithm the client is not registered for
MUTATIONS["outsider-key-same-kid"] = bearer(
    lambda c: c.signed(c.outsider, "ES384", {"kid": "trusted-ehr-1"})
)
MUTATIONS["outsider-key-no-kid"] = bearer(lambda c: c.signed(c.outsider, "ES384"))
MUTATIONS["outsider-key-other-kid"] = bearer(lambda c: c.signed(c.outsider, "ES384", {"kid": "x"}))
MUTATIONS["rsa-RS384-unregistered"] = bearer(lambda c: c.signed(c.rsa, "RS384"))
MUTATIONS["rsa-RS256-unregistered"] = bearer(lambda c: c.signed(c.rsa, "RS256"))
MUTATIONS["rsa-PS384-unregistered"] = bearer(lambda c: c.signed(c.rsa, "PS384"))
MUTATIONS["p256-ES256-not-allowed-for-client"] = bearer(lambda c: c.signed(c.p256, "ES256"))
MUTATIONS["es384-token-labelled-ES256"] = bearer(
    lambda c: ".".join(
        [
            _b64json({"alg": "ES256", "typ": "JWT", "kid": "trusted-ehr-1"}),
            *c.make(PATH).split(".")[1:],
        ]
    )
)
MUTATIONS["payload-tampered"] = _tampered_payload
MUTATIONS["signature-bit-flipped"] = _flip_signature
MUTATIONS["signature-truncated"] = bearer(lambda c: c.make(PATH)[:-10])
MUTATIONS["signature-stripped"] = bearer(lambda c: c.make(PATH).rsplit(".", 1)[0] + ".")
MUTATIONS["signature-from-other-token"] = bearer(
    lambda c: c.make(PATH).rsplit(".", 1)[0] + "." + c.make(PATH).rsplit(".", 1)[1][::-1]
)

# aud: the exact endpoint URL from CDS_PUBLIC_BASE_URL and nothing else
for _name, _aud in {
    "other-service": BASE + "/cds-services/statin-therapy",
    "base-only": BASE,
    "discovery": BASE + "/cds-services",
    "trailing-slash": BASE + PATH + "/",
    "https-scheme": BASE.replace("http://", "https://") + PATH,
    "host-header": "http://testserver" + PATH,
    "localhost": "http://localhost:8000" + PATH,
    "feedback-endpoint": BASE + PATH + "/feedback",
    "query-string": BASE + PATH + "?x=1",
    "upper-case": (BASE + PATH).upper(),
    "list-of-others": [BASE + "/cds-services/statin-therapy", BASE],
    "integer": 42,
    "empty": "",
}.items():
    MUTATIONS[f"aud-{_name}"] = bearer(lambda c, a=_aud: c.make(PATH, aud=a))
MUTATIONS["aud-missing"] = bearer(
    lambda c: c.signed(c.key, "ES384", {"kid": "trusted-ehr-1"}, aud=None)
)

# time: expired, issued in the future, lived too long
_now = lambda: int(time.time())  # noqa: E731
for _ago in (31 + 1, 60, 3600, 10**6):
    MUTATIONS[f"expired-{_ago}s-ago"] = bearer(
        lambda c, a=_ago: c.make(PATH, exp=_now() - a, iat=_now() - a - 60)
    )
MUTATIONS["exp-zero"] = bearer(lambda c: c.make(PATH, exp=0, iat=0))
for _ahead in (32, 60, 3600, 10**6):
    MUTATIONS[f"iat-{_ahead}s-in-future"] = bearer(
        lambda c, a=_ahead: c.make(PATH, iat=_now() + a, exp=_now() + a + 60)
    )
for _life in (301, 600, 3600, 86400):
    MUTATIONS[f"lifetime-{_life}s"] = bearer(
        lambda c, n=_life: c.make(PATH, iat=_now(), exp=_now() + n)
    )
MUTATIONS["exp-before-iat"] = bearer(lambda c: c.make(PATH, iat=_now(), exp=_now() - 1))

# missing or mistyped claims
for _claim, _value in {
    "exp-missing": ("exp", None),
    "iat-missing": ("iat", None),
    "jti-missing": ("jti", None),
    "iss-missing": ("iss", None),
    "exp-string": ("exp", "tomorrow"),
    "iat-bool": ("iat", True),
    "exp-bool": ("exp", True),
    "jti-integer": ("jti", 12345),
    "jti-empty": ("jti", ""),
    "jti-too-long": ("jti", "j" * 300),
    "iss-integer": ("iss", 7),
}.items():
    MUTATIONS[f"claim-{_claim}"] = bearer(
        lambda c, k=_value[0], v=_value[1]: c.signed(
            c.key, "ES384", {"kid": "trusted-ehr-1"}, **{k: v}
        )
    )

# jti replay
MUTATIONS["jti-replayed-same-token"] = _replayed
MUTATIONS["jti-replayed-new-token"] = _replayed_new_token_same_jti
MUTATIONS["jti-replayed-from-other-endpoint"] = _replayed_jti_from_other_endpoint

# iss
for _name, _iss in {
    "unknown": "https://evil.example.org",
    "trailing-slash": "https://ehr.example.org/",
    "case-changed": "https://EHR.example.org",
    "empty": "",
    "inactive-client": "https://inactive.example.org",
    "sandbox": "https://sandbox.cds-hooks.org",
}.items():
    MUTATIONS[f"iss-{_name}"] = bearer(lambda c, i=_iss: c.make(PATH, iss=i))

# tenant
_T = "https://tenant-ehr.example.org"
MUTATIONS["tenant-missing"] = bearer(lambda c: c.make(PATH, iss=_T))
MUTATIONS["tenant-wrong"] = bearer(lambda c: c.make(PATH, iss=_T, tenant="t-2"))
MUTATIONS["tenant-case"] = bearer(lambda c: c.make(PATH, iss=_T, tenant="T-1"))
MUTATIONS["tenant-integer"] = bearer(lambda c: c.make(PATH, iss=_T, tenant=1))
MUTATIONS["tenant-list"] = bearer(lambda c: c.make(PATH, iss=_T, tenant=["t-1"]))
MUTATIONS["tenant-unexpected"] = bearer(lambda c: c.make(PATH, tenant="t-1"))

# jku / embedded keys: only allowlisted URLs are fetched, the header never brings a key
_J = "https://jku-ehr.example.org"
MUTATIONS["jku-not-allowlisted-attacker-jwks"] = bearer(
    lambda c: c.signed(
        c.outsider,
        "ES384",
        {"kid": "trusted-ehr-1", "jku": c.jwks_server.base_url + "/attacker.json"},
    )
)
MUTATIONS["jku-not-allowlisted-for-pinned-client"] = bearer(
    lambda c: c.signed(c.outsider, "ES384", {"kid": "trusted-ehr-1", "jku": c.jku_url})
)
MUTATIONS["jku-allowlisted-but-signed-by-outsider"] = bearer(
    lambda c: c.signed(c.outsider, "ES384", {"kid": "trusted-ehr-1", "jku": c.jku_url}, iss=_J)
)
MUTATIONS["jku-allowlisted-redirects"] = bearer(
    lambda c: c.signed(
        c.outsider,
        "ES384",
        {"kid": "trusted-ehr-1", "jku": c.jwks_server.base_url + "/redirect.json"},
        iss=_J,
    )
)
MUTATIONS["jku-allowlisted-500"] = bearer(
    lambda c: c.signed(
        c.key,
        "ES384",
        {"kid": "trusted-ehr-1", "jku": c.jwks_server.base_url + "/broken.json"},
        iss=_J,
    )
)
MUTATIONS["jku-allowlisted-too-large"] = bearer(
    lambda c: c.signed(
        c.key,
        "ES384",
        {"kid": "trusted-ehr-1", "jku": c.jwks_server.base_url + "/huge.json"},
        iss=_J,
    )
)
MUTATIONS["jku-allowlisted-not-json"] = bearer(
    lambda c: c.signed(
        c.key,
        "ES384",
        {"kid": "trusted-ehr-1", "jku": c.jwks_server.base_url + "/html.json"},
        iss=_J,
    )
)
MUTATIONS["jku-allowlisted-private-key-only"] = bearer(
    lambda c: c.signed(
        c.outsider,
        "ES384",
        {"kid": "trusted-ehr-1", "jku": c.jwks_server.base_url + "/private.json"},
        iss=_J,
    )
)
MUTATIONS["jku-missing-for-jku-client"] = bearer(
    lambda c: c.signed(c.key, "ES384", {"kid": "trusted-ehr-1"}, iss=_J)
)
MUTATIONS["jwk-header-injected"] = bearer(
    lambda c: c.signed(
        c.outsider, "ES384", {"kid": "trusted-ehr-1", "jwk": c.outsider.as_dict(private=False)}
    )
)
MUTATIONS["x5u-header"] = bearer(
    lambda c: c.signed(
        c.outsider,
        "ES384",
        {"kid": "trusted-ehr-1", "x5u": c.jwks_server.base_url + "/attacker.json"},
    )
)

# kid
MUTATIONS["kid-unknown"] = bearer(lambda c: c.signed(c.key, "ES384", {"kid": "no-such-kid"}))
MUTATIONS["kid-integer"] = bearer(
    lambda c: (
        _b64json({"alg": "ES384", "typ": "JWT", "kid": 1}) + "." + c.make(PATH).split(".", 1)[1]
    )
)
MUTATIONS["kid-empty"] = bearer(lambda c: c.signed(c.key, "ES384", {"kid": ""}))

# typ / crit
MUTATIONS["typ-JWE"] = bearer(
    lambda c: c.signed(c.key, "ES384", {"kid": "trusted-ehr-1", "typ": "JWE"})
)
MUTATIONS["typ-at+jwt"] = bearer(
    lambda c: c.signed(c.key, "ES384", {"kid": "trusted-ehr-1", "typ": "at+jwt"})
)
MUTATIONS["crit-unknown"] = bearer(
    lambda c: c.raw({"alg": "ES384", "crit": ["x-custom"], "x-custom": 1}, c.claims(), b"x" * 96)
)

# malformed compact serialization and Authorization header
for _name, _value in {
    "empty-token": "Bearer ",
    "bearer-only": "Bearer",
    "no-scheme": "{token}",
    "basic-scheme": "Basic {token}",
    "token-scheme": "Token {token}",
    "one-segment": "Bearer abc",
    "two-segments": "Bearer abc.def",
    "four-segments": "Bearer {token}.abc",
    "dots-only": "Bearer ..",
    "not-base64": "Bearer !!.!!.!!",
    "space-inside": "Bearer {head} .{rest}",
    "non-ascii": "Bearer é.é.é",
    "huge": "Bearer " + "a" * 17000 + ".b.c",
    "header-not-json": "Bearer " + _b64(b"not json") + ".{rest}",
    "header-array": "Bearer " + _b64json(["ES384"]) + ".{rest}",
    "payload-not-json": "Bearer {head}." + _b64(b"{nope") + ".sig",
    "payload-array": "Bearer {head}." + _b64json([1, 2]) + ".sig",
    "payload-string": "Bearer {head}." + _b64json("iss") + ".sig",
}.items():

    def _fmt(c: Ctx, v: str = _value) -> str:
        token = c.make(PATH)
        head, _, rest = token.partition(".")
        return v.replace("{token}", token).replace("{head}", head).replace("{rest}", rest)

    MUTATIONS[f"malformed-{_name}"] = _fmt


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "trusted-ehr-1"}, private=True)


@pytest.fixture(scope="module")
def p256_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "trusted-ehr-1"}, private=True)


@pytest.fixture
def ctx(
    api: Any,
    trusted_ehr: Any,
    make_token: Any,
    ehr_key: ECKey,
    outsider_key: ECKey,
    rsa_key: RSAKey,
    p256_key: ECKey,
) -> Any:
    from django.core.cache import cache

    from ehr_integration.models import EhrClient
    from ehr_integration.services import ehr_client_register

    cache.clear()
    public = {"keys": [ehr_key.as_dict(private=False)]}
    ehr_client_register(issuer=_T, jwks=public, tenant="t-1", allowed_algorithms=["ES384"])
    inactive = ehr_client_register(issuer="https://inactive.example.org", jwks=public)
    inactive.is_active = False
    inactive.save()
    with loopback_server() as server:
        server.json("/jwks.json", public)
        server.json("/attacker.json", {"keys": [outsider_key.as_dict(private=False)]})
        server.json("/private.json", {"keys": [outsider_key.as_dict(private=True)]})
        server.routes["/redirect.json"] = (302, {"Location": "/attacker.json"}, b"")
        server.routes["/broken.json"] = (500, {}, b"{}")
        server.routes["/html.json"] = (200, {"Content-Type": "text/html"}, b"<html>")
        server.routes["/huge.json"] = (
            200,
            {},
            json.dumps({"keys": [], "pad": "x" * 70000}).encode(),
        )
        jku_url = server.base_url + "/jwks.json"
        # Created directly: the registry only takes https jku URLs, the loopback is http.
        EhrClient.objects.create(
            issuer=_J,
            jku_allowlist=[
                jku_url,
                *(
                    server.base_url + p
                    for p in (
                        "/redirect.json",
                        "/broken.json",
                        "/html.json",
                        "/huge.json",
                        "/private.json",
                    )
                ),
            ],
            allowed_algorithms=["ES384"],
        )
        yield Ctx(api, make_token, ehr_key, outsider_key, rsa_key, p256_key, server, jku_url)


def test_there_are_over_a_hundred_mutations() -> None:
    assert len(MUTATIONS) >= 100, len(MUTATIONS)


# The reason each family must be refused for (logged, never told to the caller): proves a
# mutation is caught by the rule it targets and not by an accident of its construction.
EXPECTED_REASONS: dict[str, set[str]] = {
    "alg-missing": {"malformed_token"},
    "alg-": {"alg_not_asymmetric"},
    "HS": {"alg_not_asymmetric"},
    "outsider-": {"bad_signature"},
    "rsa-RS384": {"bad_signature"},
    "rsa-": {"alg_not_allowed_for_client"},
    "p256-": {"alg_not_allowed_for_client"},
    "es384-token-labelled": {"alg_not_allowed_for_client"},
    "payload-tampered": {"bad_signature"},
    "signature-": {"bad_signature"},
    "aud-": {"wrong_aud"},
    "expired-": {"expired"},
    "exp-zero": {"expired"},
    "iat-": {"iat_in_future"},
    "lifetime-": {"lifetime_too_long"},
    "exp-before-iat": {"lifetime_too_long"},
    "claim-exp": {"missing_exp"},
    "claim-iat": {"missing_iat"},
    "claim-jti": {"missing_jti"},
    "claim-iss": {"missing_iss"},
    "jti-replayed": {"replayed_jti"},
    "iss-empty": {"missing_iss"},
    "iss-": {"unknown_iss"},
    "tenant-unexpected": {"unexpected_tenant"},
    "tenant-": {"wrong_tenant"},
    "jku-allowlisted-500": {"jwks_fetch_status"},
    "jku-allowlisted-redirects": {"jwks_fetch_status"},
    "jku-allowlisted-not-json": {"jwks_not_json"},
    "jku-allowlisted-too-large": {"jwks_too_large"},
    "jku-allowlisted-private-key-only": {"no_public_keys"},
    "jku-missing-for-jku-client": {"no_public_keys"},
    "jku-": {"bad_signature"},
    "jwk-header": {"bad_signature"},
    "x5u-": {"bad_signature"},
    "kid-": {"bad_signature"},
    "typ-": {"bad_typ"},
    "crit-": {"bad_signature"},
    "malformed-payload-array": {"payload_not_object"},
    "malformed-payload-string": {"payload_not_object"},
    "malformed-basic": {"missing_bearer"},
    "malformed-token-scheme": {"missing_bearer"},
    "malformed-no-scheme": {"missing_bearer"},
    "malformed-bearer-only": {"missing_bearer"},
    "malformed-empty-token": {"missing_bearer"},
    "malformed-": {"malformed_token"},
}


def _expected_reasons(name: str) -> set[str]:
    # the longest matching prefix wins, so specific entries override their family
    prefix = max((p for p in EXPECTED_REASONS if name.startswith(p)), key=len)
    return EXPECTED_REASONS[prefix]


@pytest.mark.req(176, 195, 199, 201, 203, 177)
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutated_jwt_is_refused_with_the_same_401(name: str, ctx: Ctx, caplog: Any) -> None:
    header = MUTATIONS[name](ctx)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="ehr_integration.auth")
    response = ctx.api.post(PATH, patient_view_body(), format="json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401, (name, response.content)
    assert response.json() == GENERIC_401
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE
    reasons = {
        r.getMessage().split("reason=")[1].split()[0]
        for r in caplog.records
        if "reason=" in r.getMessage()
    }
    assert reasons and reasons <= _expected_reasons(name), (name, reasons)


def test_no_authorization_header_gets_the_same_401(ctx: Ctx) -> None:
    response = ctx.api.post(PATH, patient_view_body(), format="json")
    assert response.status_code == 401
    assert response.json() == GENERIC_401
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE


@pytest.mark.parametrize(
    "name", ["alg-none-sig0", "HS256-public-pem", "aud-other-service", "jti-replayed-same-token"]
)
def test_the_feedback_endpoint_refuses_the_same_way(name: str, ctx: Ctx) -> None:
    path = PATH + "/feedback"
    header = MUTATIONS[name](ctx).replace(PATH + '"', path + '"')
    response = ctx.api.post(path, {"feedback": []}, format="json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json() == GENERIC_401


def test_honest_tokens_from_each_persona_are_accepted(ctx: Ctx) -> None:
    """The controls: without the mutation the same calls succeed."""
    assert ctx.call(ctx.make(PATH)).status_code == 200
    assert ctx.call(ctx.make(PATH, iss=_T, tenant="t-1")).status_code == 200
    jku_token = ctx.signed(ctx.key, "ES384", {"kid": "trusted-ehr-1", "jku": ctx.jku_url}, iss=_J)
    assert ctx.call(jku_token).status_code == 200
    assert ctx.call(ctx.make(PATH, exp=_now() + 20, iat=_now() - 30 - 250)).status_code == 200


def test_an_allowlisted_jku_is_fetched_once_and_cached(ctx: Ctx) -> None:
    for _ in range(3):
        token = ctx.signed(ctx.key, "ES384", {"kid": "trusted-ehr-1", "jku": ctx.jku_url}, iss=_J)
        assert ctx.call(token).status_code == 200
    fetched = [s for s in ctx.jwks_server.seen if s.path == "/jwks.json"]
    assert len(fetched) == 1


def test_a_jku_that_is_not_allowlisted_is_never_fetched(ctx: Ctx) -> None:
    header = MUTATIONS["jku-not-allowlisted-attacker-jwks"](ctx)
    assert (
        ctx.api.post(
            PATH, patient_view_body(), format="json", HTTP_AUTHORIZATION=header
        ).status_code
        == 401
    )
    assert not [s for s in ctx.jwks_server.seen if s.path == "/attacker.json"]
