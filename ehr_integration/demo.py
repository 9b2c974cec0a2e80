"""The demo EHR: a key pair kept under var/demo so a first request can be signed locally.

Only for the README's first run; a real EHR registers its own public keys.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from joserfc import jwt
from joserfc.jwk import ECKey

DEMO_ISSUER = "https://demo-ehr.invalid"
DEMO_KID = "demo-ehr-es384"


def _key_path() -> Path:
    return Path(settings.VAR_DIR) / "demo" / "demo-ehr-private.jwk.json"


def demo_key_load_or_create() -> ECKey:
    path = _key_path()
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text()))
    key = ECKey.generate_key("P-384", parameters={"kid": DEMO_KID, "alg": "ES384"}, private=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key.as_dict(private=True)))
    path.chmod(0o600)
    return key


def demo_public_jwks() -> dict[str, Any]:
    key = demo_key_load_or_create()
    return {"keys": [key.as_dict(private=False)]}


def demo_token(*, audience: str, lifetime: int = 300) -> str:
    key = demo_key_load_or_create()
    now = int(time.time())
    claims = {
        "iss": DEMO_ISSUER,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(
        {"alg": "ES384", "typ": "JWT", "kid": DEMO_KID}, claims, key, algorithms=["ES384"]
    )
