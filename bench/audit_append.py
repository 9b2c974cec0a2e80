"""Audit append cost inside a hook, beside a plain INSERT + COMMIT of the same row size.

    .venv/bin/python bench/audit_append.py [--n 1500] [--pg postgres://postgres@127.0.0.1:5432/cds_bench_audit]

For each database (SQLite file under a temporary folder, and PostgreSQL when reachable)
it runs, in one process and interleaved call by call so both see the same disk:

- audit: `with transaction.atomic(): decision_record_append(event=...)` with a realistic
  hook event (the exact block cds/hook_flow.py runs), commit included;
- baseline: `with transaction.atomic(): INSERT` of a row whose text is the same size as the
  audit body, commit included (the floor any durable write pays: the fsync at COMMIT).

On PostgreSQL it repeats both with `SET LOCAL synchronous_commit = off`, an option an
operator may choose (a crash can lose the last few hundred ms of commits; it never
corrupts the chain), shown here for information, never the default.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def hook_event(i: int) -> dict[str, Any]:
    """A hook event shaped like the diabetes service's with a model active: the contract's
    50 features, a guideline trace, and SHAP values for every shown candidate (7) and risk
    (6), as privacy.serving produces them (full-precision floats, as logged)."""
    from ehr_integration.fhir.contract import FEATURE_NAMES, RISKS, TASK_CANDIDATES

    rng = random.Random(i)
    features = {name: round(rng.uniform(0, 200), 2) for name in FEATURE_NAMES}
    targets = [f"t2d_drug:{c}" for c in TASK_CANDIDATES["t2d_drug"]]
    targets += [f"risk:{r}" for r in RISKS]
    return {
        "kind": "hook",
        "service_id": "diabetes-therapy",
        "hook": "patient-view",
        "hook_instance": f"bench-{i}",
        "client_id": "bench-client",
        "tenant": "bench",
        "jti": f"jti-{i}",
        "context": {"userId": "Practitioner/123", "patientId": f"patient-{i % 500}"},
        "response": {
            "cards": [
                {
                    "uuid": f"card-{i}-{n}",
                    "summary": "Consider adding an SGLT2 inhibitor",
                    "indicator": "info",
                    "detail": "eGFR 38 mL/min/1.73m2, falling: raises kidney risk. " * 12,
                    "source": {"label": "ADA Standards of Care 2025"},
                }
                for n in range(3)
            ]
        },
        "decision": {
            "patient_ref": f"Patient/patient-{i % 500}",
            "user": "Practitioner/123",
            "features": features,
            "guideline_version": "9f" * 32,
            "guideline_trace": [
                {"rule": f"ada.rule.{r}", "result": "true", "why": "HbA1c above target"}
                for r in range(12)
            ],
            "candidates": [
                {"action": a, "concordant": True, "score": rng.random()}
                for a in TASK_CANDIDATES["t2d_drug"]
            ],
            "model": {"task": "t2d_drug", "artifact_sha256": "ab" * 32},
            "risks": {r: rng.random() for r in RISKS},
            "explanations": [
                {
                    "target": t,
                    "base_value": rng.uniform(-2, 2),
                    "values": {k: rng.uniform(-0.5, 0.5) for k in FEATURE_NAMES},
                    "output": rng.uniform(-3, 3),
                }
                for t in targets
            ],
        },
        "latency_ms": 7.5,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_one(database_url: str, n: int) -> dict[str, Any]:
    """Inside a child process: migrate a fresh database, time both writes."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CDS_LOG_LEVEL"] = "WARNING"
    os.environ["CDS_AUDIT_KEY_DIR"] = tempfile.mkdtemp(prefix="bench-keys-")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from audit.models import DecisionRecord
    from audit.services import decision_record_append

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain")
        serial = "BIGSERIAL" if connection.vendor == "postgresql" else "INTEGER"
        cursor.execute(f"CREATE TABLE bench_plain (id {serial} PRIMARY KEY, body TEXT NOT NULL)")
    variants = [False, True] if connection.vendor == "postgresql" else [False]
    results: dict[str, Any] = {"vendor": connection.vendor}
    i = 0
    for async_commit in variants:
        audit_ms: list[float] = []
        plain_ms: list[float] = []
        audit_cpu: list[float] = []
        plain_cpu: list[float] = []
        for k in range(n + 50):  # the first 50 warm caches and connections up
            event = hook_event(i)
            i += 1
            started, cpu = time.perf_counter(), time.process_time()
            with transaction.atomic():
                if async_commit:
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit = off")
                seq = decision_record_append(event=event)
            audit = (time.perf_counter() - started) * 1000
            audit_c = (time.process_time() - cpu) * 1000
            body = DecisionRecord.objects.values_list("body", flat=True).get(seq=int(seq))
            started, cpu = time.perf_counter(), time.process_time()
            with transaction.atomic(), connection.cursor() as cursor:
                if async_commit:
                    cursor.execute("SET LOCAL synchronous_commit = off")
                cursor.execute("INSERT INTO bench_plain (body) VALUES (%s)", [body])
            plain = (time.perf_counter() - started) * 1000
            plain_c = (time.process_time() - cpu) * 1000
            if k >= 50:
                audit_ms.append(audit)
                plain_ms.append(plain)
                audit_cpu.append(audit_c)
                plain_cpu.append(plain_c)
        name = "synchronous_commit=off (option)" if async_commit else "default"
        results[name] = {
            "body_bytes": len(body),
            "audit": {f"p{q}": percentile(audit_ms, q) for q in (50, 95, 99)},
            "plain": {f"p{q}": percentile(plain_ms, q) for q in (50, 95, 99)},
            "audit_mean": statistics.fmean(audit_ms),
            "plain_mean": statistics.fmean(plain_ms),
            # this process's own CPU per call: the audit's work without the waits
            "audit_cpu_p50": statistics.median(audit_cpu),
            "plain_cpu_p50": statistics.median(plain_cpu),
        }
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_plain")
    return results


def pg_reset(url: str) -> bool:
    """Create (or empty) the benchmark database; False when PostgreSQL is not reachable."""
    try:
        import psycopg
    except ImportError:
        return False
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL not available ({type(exc).__name__}); skipping it")
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/cds_bench_audit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.n)))
        return
    targets = [f"sqlite:///{tempfile.mkdtemp(prefix='bench-audit-')}/bench.sqlite3"]
    if pg_reset(args.pg):
        targets.append(args.pg)
    print(f"audit append inside a hook vs plain INSERT+COMMIT, n={args.n} each, same run")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for url in targets:
        done = subprocess.run(
            [sys.executable, __file__, "--n", str(args.n), "--child", url],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        vendor = result.pop("vendor")
        for name, r in result.items():
            a, p = r["audit"], r["plain"]
            print(
                f"{vendor:10s} {name:32s} body {r['body_bytes']} B | audit p50 {a['p50']:.2f} "
                f"p95 {a['p95']:.2f} p99 {a['p99']:.2f} ms | plain insert p50 {p['p50']:.2f} "
                f"p95 {p['p95']:.2f} p99 {p['p99']:.2f} ms | p95 ratio "
                f"{a['p95'] / p['p95']:.2f}x, p95 overhead {a['p95'] - p['p95']:+.2f} ms | "
                f"client CPU p50 audit {r['audit_cpu_p50']:.2f} vs plain "
                f"{r['plain_cpu_p50']:.2f} ms"
            )


if __name__ == "__main__":
    main()
