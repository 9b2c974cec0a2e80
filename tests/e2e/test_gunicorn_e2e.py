"""End to end over real HTTP: gunicorn started the way bin/serve starts it (migrate,
demo_setup, gunicorn config.wsgi with two workers) on a free port and a fresh SQLite file;
the curl that demo_setup prints is run as printed, and a client registered with the CLI
makes signed calls from this process."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.conftest import patient_view_body

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CDS_PUBLIC_BASE_URL": base,
        "CDS_VAR_DIR": str(tmp / "var"),
        "DATABASE_URL": f"sqlite:///{tmp / 'e2e.sqlite3'}",
    }
    run = lambda *a: subprocess.run(  # noqa: E731
        [str(BIN / "python"), "manage.py", *a],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    run("migrate", "--noinput", "-v", "0")
    demo = run("demo_setup").stdout
    key = ECKey.generate_key("P-384", parameters={"kid": "e2e-1"}, private=True)
    jwks = tmp / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    run("register_ehr_client", "--issuer", "https://e2e-ehr.example.org", "--jwks-file", str(jwks))
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 150
        while True:
            try:
                if requests.get(base + "/cds-services", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not up yet, or a worker still booting
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"gunicorn did not start: {server.stderr.read() if server.stderr else ''}"
                )
            time.sleep(0.3)
        yield {"base": base, "demo": demo, "key": key}
    finally:
        server.terminate()
        server.wait(timeout=30)


def _sign(key: ECKey, aud: str) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://e2e-ehr.example.org",
        "aud": aud,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(
        {"alg": "ES384", "typ": "JWT", "kid": "e2e-1"}, claims, key, algorithms=["ES384"]
    )


@pytest.mark.req(5, 13, 74, 176, 2, 27)
def test_a_signed_hook_call_over_real_http_is_answered(served: dict[str, Any]) -> None:
    url = served["base"] + "/cds-services/diabetes-therapy"
    token = _sign(served["key"], url)
    response = requests.post(
        url, json=patient_view_body(), timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["cards"], list)
    replay = requests.post(
        url, json=patient_view_body(), timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    assert replay.status_code == 401
    assert replay.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_curl_demo_setup_prints_works_as_printed(served: dict[str, Any]) -> None:
    lines = [
        line.strip() for line in served["demo"].splitlines() if line.strip().startswith("curl")
    ]
    assert len(lines) == 2, served["demo"]
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "curl"
        out = subprocess.run(
            [*argv, "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        body, _, status = out.rpartition("\n")
        assert status == "200", (line[:120], out[-300:])
        assert re.match(r"^\{", body)
        if " -X POST " in line:
            # the demo patient (T2D above goal, CKD 3a, stage 2 hypertension) gets real,
            # guideline-checked cards ranked by the shipped DP model, not an empty answer
            cards = json.loads(body)["cards"]
            assert cards, body[:300]
            assert any("**Model ranking**" in c["detail"] for c in cards), body[:600]


def test_cors_preflight_over_real_http(served: dict[str, Any]) -> None:
    response = requests.options(
        served["base"] + "/cds-services/diabetes-therapy",
        timeout=10,
        headers={
            "Origin": "http://127.0.0.1:8080",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
