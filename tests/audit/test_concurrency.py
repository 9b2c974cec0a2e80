"""Several worker processes appending at once on PostgreSQL: no gaps, no forks, verified."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from audit.models import Checkpoint, DecisionRecord
from audit.verification import audit_log_verify

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 5
PER_WORKER = 420  # 2,100 appends in all
CHECKPOINT_EVERY = 300

WORKER = """
import os, sys, time
import django
django.setup()
from django.db import transaction
from audit.services import decision_record_append
name, count, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
while not os.path.exists(go):  # start together
    time.sleep(0.005)
for i in range(count):
    with transaction.atomic():
        decision_record_append(event={
            "kind": "hook", "service_id": "diabetes-therapy", "hook": "patient-view",
            "hook_instance": f"{name}-{i}", "client_id": name, "tenant": "",
            "context": {"userId": "Practitioner/1", "patientId": f"p{i % 13}"},
            "response": {"cards": [{"uuid": f"{name}-card-{i}", "summary": "s",
                                    "indicator": "info", "source": {"label": "x"}}]},
            "decision": {"features": {"egfr": 40.0 + i}}, "latency_ms": 1.0,
        })
print("done", name)
"""


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_from_several_processes_form_one_verified_chain(
    tmp_path: Path, _audit_keys: Path, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: the multi-process writer lock under test is PG's")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CDS_AUDIT_KEY_DIR": str(_audit_keys),
        "CDS_AUDIT_CHECKPOINT_EVERY": str(CHECKPOINT_EVERY),
        "CDS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    settings.CDS_AUDIT = {**settings.CDS_AUDIT, "CHECKPOINT_EVERY": CHECKPOINT_EVERY}
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, f"w{n}", str(PER_WORKER), str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    time.sleep(1.0)  # let every worker import Django and reach the start line
    go.touch()
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]

    total = WORKERS * PER_WORKER
    seqs = list(DecisionRecord.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))  # no gaps, no duplicates
    writers = list(DecisionRecord.objects.order_by("seq").values_list("client_id", flat=True))
    switches = sum(1 for a, b in itertools.pairwise(writers) if a != b)
    assert switches > WORKERS * 10, "the workers did not really run at the same time"
    assert list(Checkpoint.objects.values_list("tree_size", flat=True)) == list(
        range(CHECKPOINT_EVERY, total + 1, CHECKPOINT_EVERY)
    )
    report = audit_log_verify()
    assert report.ok, report.problem
    assert report.records == total
    assert report.checkpoints_checked == total // CHECKPOINT_EVERY
