"""Verification time and memory for a 200k-record decision log.

    .venv/bin/python bench/audit_verify.py [--n 200000] [--no-db]

1. Builds an export (JSON lines, a signed checkpoint every 1,000 records) of n realistic
   records in a temporary folder.
2. In separate child processes (so each peak RSS is its own), times:
   - baseline: read every line, parse it and SHA-256 its body (the floor of any check);
   - `audit/verify_export.py` over the file (canonical check, chain, Merkle, checkpoints).
3. Unless --no-db: bulk-loads the same rows into a fresh SQLite database and times
   `audit_log_verify()` (what `manage.py audit_verify` runs: chain, checkpoints and every
   indexed column against its body) beside a plain read of the rows with SHA-256.
Prints seconds, records/s, peak RSS, and the ratio to the baseline measured in this run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit import chain  # noqa: E402

CHECKPOINT_EVERY = 1000


def body_for(rng: random.Random, seq: int) -> dict[str, Any]:
    features = {f"feature_{k}": round(rng.uniform(0, 100), 4) for k in range(12)}
    return {
        "v": 1,
        "seq": seq,
        "time": f"2026-12-02T05:00:00.{seq % 1000000:06d}+00:00",
        "kind": "hook",
        "client_id": "bench-client",
        "tenant": "bench",
        "user": f"Practitioner/{rng.randint(1, 300)}",
        "hook_instance": f"hi-{seq}",
        "service_id": rng.choice(["diabetes-therapy", "statin-therapy", "ckd-risk"]),
        "patient_pseudonym": f"{rng.getrandbits(256):064x}",
        "model_artifact_sha256": "ab" * 32,
        "guideline_version": "9f" * 32,
        "latency_ms": round(rng.uniform(1, 40), 3),
        "decision_seq": None,
        "outcome": "",
        "event": {
            "decision": {
                "features": features,
                "candidates": [{"action": "metformin", "score": rng.random()}],
                "explanations": [
                    {"target": "metformin", "base_value": 0.2, "values": features, "output": 0.4}
                ],
                "guideline_trace": [{"rule": "ada.9.1", "result": "fired", "why": "HbA1c > 7"}],
            },
            "response": {"cards": [{"uuid": f"c{seq}", "summary": "Consider metformin"}]},
        },
    }


def export_build(path: Path, n: int) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    (path.parent / "signing.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    rng = random.Random(1)
    frontier = chain.MerkleFrontier()
    prev = chain.GENESIS_HASH
    checkpoints = []
    records = path.parent / "records.part"
    with records.open("w", encoding="utf-8") as out:
        for seq in range(1, n + 1):
            body = chain.canonical_json(body_for(rng, seq))
            digest = chain.record_hash(prev, body)
            out.write(
                json.dumps(
                    {
                        "type": "record",
                        "seq": seq,
                        "prev_hash": prev,
                        "hash": digest,
                        "body": body.decode(),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
            prev = digest
            frontier.append(chain.leaf_hash(body))
            if seq % CHECKPOINT_EVERY == 0 or seq == n:
                checkpoints.append(
                    chain.checkpoint_sign(
                        private_key=key,
                        tree_size=seq,
                        root=frontier.root(),
                        chain_head=digest,
                        time="2026-12-02T06:00:00+00:00",
                    )
                )
    with path.open("w", encoding="utf-8") as out:
        header = {
            "type": "header",
            "format": "cds-audit-export/1",
            "key_id": chain.key_id_of(key.public_key()),
            "public_key_pem": pem,
            "records": n,
        }
        out.write(json.dumps(header) + "\n")
        for cp in checkpoints:
            out.write(json.dumps({"type": "checkpoint", **cp.as_json()}) + "\n")
        with records.open(encoding="utf-8") as src:
            for line in src:
                out.write(line)
    records.unlink()


def child_baseline(path: str) -> str:
    count = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            if item.get("type") == "record":
                hashlib.sha256(item["body"].encode()).digest()
                count += 1
    return f"{count} records read"


def child_verify(path: str) -> str:
    from audit.verify_export import export_verify

    with open(path, encoding="utf-8") as handle:
        report, _ = export_verify(handle)
    assert report.ok, report.problem
    return f"{report.records} records, {report.checkpoints_checked} checkpoints OK"


def _django(db_path: str, key_dir: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["CDS_AUDIT_SIGNING_KEY_FILE"] = str(Path(key_dir) / "signing.pem")
    os.environ["CDS_AUDIT_KEY_DIR"] = key_dir
    os.environ["CDS_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    global WORK_STARTED  # Django's start-up is not part of the verification
    WORK_STARTED = time.perf_counter()


WORK_STARTED = 0.0


def child_db_load(path: str, db_path: str) -> str:
    _django(db_path, str(Path(path).parent))
    from django.core.management import call_command

    from audit.models import Checkpoint, DecisionRecord
    from audit.services import record_columns

    call_command("migrate", verbosity=0)
    batch: list[DecisionRecord] = []
    checkpoints: list[Checkpoint] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            if item["type"] == "checkpoint":
                item.pop("type")
                checkpoints.append(Checkpoint(**item, frontier=[]))
            elif item["type"] == "record":
                body = item["body"]
                batch.append(
                    DecisionRecord(
                        seq=item["seq"],
                        body=body,
                        leaf_hash=chain.leaf_hash(body.encode()).hex(),
                        prev_hash=item["prev_hash"],
                        hash=item["hash"],
                        **record_columns(json.loads(body)),
                    )
                )
                if len(batch) == 5000:
                    DecisionRecord.objects.bulk_create(batch)
                    batch = []
    DecisionRecord.objects.bulk_create(batch)
    Checkpoint.objects.bulk_create(checkpoints)
    return "loaded"


def child_db_baseline(path: str, db_path: str) -> str:
    _django(db_path, str(Path(path).parent))
    from audit.models import DecisionRecord

    count = 0
    rows = DecisionRecord.objects.order_by("seq").values_list("seq", "body", "hash")
    for _, body, _ in rows.iterator(chunk_size=2000):
        hashlib.sha256(body.encode()).digest()
        count += 1
    return f"{count} rows read"


def child_db_verify(path: str, db_path: str) -> str:
    _django(db_path, str(Path(path).parent))
    from audit.verification import audit_log_verify

    report = audit_log_verify()
    assert report.ok, report.problem
    return f"{report.records} records, {report.checkpoints_checked} checkpoints OK"


def measure(step: str, *args: str) -> tuple[float, float, str]:
    """Run one step in a child; return (seconds of work, peak RSS MiB, its message)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", step, *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{step} failed")
    result = json.loads(out.strip().splitlines()[-1])
    return result["seconds"], usage.ru_maxrss / 1024, result["message"]


CHILDREN = {
    "baseline": child_baseline,
    "verify": child_verify,
    "db_load": child_db_load,
    "db_baseline": child_db_baseline,
    "db_verify": child_db_verify,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--no-db", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, *rest = args.child
        started = time.perf_counter()  # the work alone, not the interpreter's start-up
        message = CHILDREN[step](*rest)
        seconds = time.perf_counter() - max(started, WORK_STARTED)
        print(json.dumps({"seconds": seconds, "message": message}))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-audit-verify-"))
    export = folder / "log.jsonl"
    started = time.perf_counter()
    export_build(export, args.n)
    size_mb = export.stat().st_size / 2**20
    print(
        f"built {args.n} records ({size_mb:.0f} MiB export) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    rows = [("export: read + parse + sha256 (baseline)", *measure("baseline", str(export)))]
    rows.append(("export: verify_export.py", *measure("verify", str(export))))
    if not args.no_db:
        db = str(folder / "bench.sqlite3")
        measure("db_load", str(export), db)
        rows.append(
            ("sqlite: read rows + sha256 (baseline)", *measure("db_baseline", str(export), db))
        )
        rows.append(("sqlite: audit_log_verify", *measure("db_verify", str(export), db)))
    base = {True: rows[0][1], False: rows[2][1] if len(rows) > 2 else rows[0][1]}
    for name, seconds, rss, message in rows:
        baseline = base[name.startswith("export")]
        print(
            f"{name:42s} {seconds:6.2f} s  {args.n / seconds:9.0f} rec/s  peak RSS "
            f"{rss:6.0f} MiB  x{seconds / baseline:.2f} of its baseline  ({message})"
        )


if __name__ == "__main__":
    main()
