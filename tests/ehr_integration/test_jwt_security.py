"""jti replay across worker processes, and tokens kept out of the logs."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from tests.conftest import BASE, patient_view_body
from tests.loopback import loopback_server

ROOT = Path(__file__).resolve().parents[2]
PATH = "/cds-services/diabetes-therapy"
RACERS = 4


def _postgres_admin_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    # the server's maintenance database: the run's own database may not exist yet
    url = (
        url.rsplit("/", 1)[0] + "/postgres"
        if url.startswith("postgres")
        else ("postgres://postgres@127.0.0.1:5432/postgres")
    )
    try:
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=2):
            return url
    except Exception:
        return None


def _worker(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ehr_integration.jti_race_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _race(db_url: str, tmp_path: Path, ehr_key: ECKey, make_token: Any) -> list[str]:
    env = {
        **os.environ,
        "CDS_PUBLIC_BASE_URL": BASE,
        "CDS_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    jwks = json.dumps({"keys": [ehr_key.as_dict(private=False)]})
    prepare = _worker("prepare", db_url, jwks, env=env)
    _, err = prepare.communicate(timeout=120)
    assert prepare.returncode == 0, err
    token = make_token(PATH)
    go = tmp_path / "go"
    racers = [_worker("race", db_url, str(go), token, BASE + PATH, env=env) for _ in range(RACERS)]
    import time

    time.sleep(2.0)  # let every racer import Django and block on the go-file
    go.touch()
    results = []
    for proc in racers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(out.strip())
    return results


@pytest.mark.slow
@pytest.mark.req(176)
def test_racing_processes_replaying_one_jti_on_sqlite_let_exactly_one_win(
    tmp_path: Path, ehr_key: ECKey, make_token: Any
) -> None:
    results = _race(f"sqlite:///{tmp_path / 'race.sqlite3'}", tmp_path, ehr_key, make_token)
    assert sorted(results) == ["refused:replayed_jti"] * (RACERS - 1) + ["won"], results


@pytest.mark.slow
def test_racing_processes_replaying_one_jti_on_postgresql_let_exactly_one_win(
    tmp_path: Path, ehr_key: ECKey, make_token: Any
) -> None:
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("no PostgreSQL server reachable")
    import psycopg

    name = f"cds_jti_race_{uuid.uuid4().hex[:8]}"
    admin_conninfo = admin.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        db_url = admin.rsplit("/", 1)[0] + "/" + name
        results = _race(db_url, tmp_path, ehr_key, make_token)
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert sorted(results) == ["refused:replayed_jti"] * (RACERS - 1) + ["won"], results


@pytest.mark.django_db
def test_tokens_never_reach_the_logs(
    api: Any, trusted_ehr: Any, make_token: Any, outsider_key: ECKey, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    good = make_token(PATH)
    forged = make_token(PATH, key=outsider_key)
    fhir_token = "fhir-access-token-" + uuid.uuid4().hex
    with loopback_server() as fhir:
        fhir.routes["/r4/Observation?patient=p1"] = (500, {}, b"{}")
        trusted_ehr.fhir_base_url = fhir.base_url + "/r4"
        trusted_ehr.save()
        statuses = _calls(api, make_token, good, forged, fhir.base_url + "/r4", fhir_token)
    assert any(s.headers.get("authorization") == f"Bearer {fhir_token}" for s in fhir.seen)
    assert [r.status_code for r in statuses] == [200, 401, 401, 412]
    assert caplog.records, "the calls should have logged something"
    secrets = [good, forged, fhir_token, *good.split("."), *forged.split(".")]
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + (record.exc_text or "")
        for secret in secrets:
            assert secret not in text, record.getMessage()


def _calls(
    api: Any, make_token: Any, good: str, forged: str, fhir: str, fhir_token: str
) -> list[Any]:
    body = patient_view_body()
    body["fhirServer"] = fhir
    body["fhirAuthorization"] = {
        "access_token": fhir_token,
        "token_type": "Bearer",
        "scope": "patient/*.read",
        "subject": "cds-service",
    }
    body["prefetch"]["observations"] = None  # forces a (refused) outbound read with the token
    return [
        api.post(PATH, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {good}"),
        api.post(PATH, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {good}"),
        api.post(PATH, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {forged}"),
        api.post(PATH, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(PATH)}"),
    ]
