"""The operator commands over a real stored log, and tampering done in the database itself."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit import chain
from audit.models import DecisionRecord
from audit.services import decision_record_append, record_columns
from audit.verify_export import export_verify
from tests.audit.test_services import hook_event

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
SIZE = 120


@pytest.fixture
def stored_log(settings: Any) -> int:
    settings.CDS_AUDIT = {**settings.CDS_AUDIT, "CHECKPOINT_EVERY": 25}
    for i in range(SIZE):
        decision_record_append(event=hook_event(patient=f"p{i % 7}", card_uuid=f"c{i}"))
    call_command("audit_checkpoint", stdout=io.StringIO())
    return SIZE


def verify_command() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_audit_verify_passes_a_clean_log(stored_log: int) -> None:
    assert verify_command().startswith(f"OK: {SIZE} records, 5 signed checkpoints matched")


class _Undo(Exception):
    pass


def _tampered(sql_steps: list[tuple[str, list[Any]]]) -> str:
    """Run raw SQL as an attacker with table access would, verify, then undo it all."""
    message = ""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    # the attacker is assumed able to bypass the triggers (superuser)
                    cursor.execute("SET LOCAL session_replication_role = replica")
                for sql, params in sql_steps:
                    cursor.execute(sql, params)
            try:
                verify_command()
            except CommandError as exc:
                assert exc.returncode == 1
                message = str(exc)
            raise _Undo
    except _Undo:
        pass
    return message


def _body(seq: int) -> str:
    return DecisionRecord.objects.values_list("body", flat=True).get(seq=seq)


def _forged_insert(p: int) -> tuple[str, list[Any]]:
    data = json.loads(_body(p))
    data["user"] = "Practitioner/forged"
    body = chain.canonical_json(data)
    prev = DecisionRecord.objects.values_list("hash", flat=True).get(seq=p - 1)
    columns = record_columns(data)
    names = [*columns, "seq", "body", "leaf_hash", "prev_hash", "hash"]
    values = [
        *columns.values(),
        p,
        body.decode(),
        chain.leaf_hash(body).hex(),
        prev,
        chain.record_hash(prev, body),
    ]
    quoted = ", ".join(connection.ops.quote_name(n) for n in names)
    marks = ", ".join(["%s"] * len(names))
    return f"INSERT INTO audit_decisionrecord ({quoted}) VALUES ({marks})", values  # noqa: S608


def test_tampering_in_the_database_is_caught_and_named(stored_log: int) -> None:
    rng = random.Random(7)

    cases = 0
    for _ in range(36):
        kind = rng.choice(["body", "column", "delete", "swap", "truncate", "hash", "forge"])
        p = rng.randint(2, SIZE - 1)
        if kind == "body":
            edited = _body(p).replace("Practitioner/123", "Practitioner/999")
            steps = [("UPDATE audit_decisionrecord SET body = %s WHERE seq = %s", [edited, p])]
            expected = p
        elif kind == "column":
            steps = [("UPDATE audit_decisionrecord SET service_id = 'other' WHERE seq = %s", [p])]
            expected = p
        elif kind == "delete":
            steps = [
                ("DELETE FROM audit_decisioncard WHERE record_id = %s", [p]),
                ("DELETE FROM audit_decisionrecord WHERE seq = %s", [p]),
            ]
            expected = p
        elif kind == "swap":
            q = rng.randint(p + 1, SIZE)
            steps = [
                ("UPDATE audit_decisionrecord SET body = %s WHERE seq = %s", [_body(q), p]),
                ("UPDATE audit_decisionrecord SET body = %s WHERE seq = %s", [_body(p), q]),
            ]
            expected = p
        elif kind == "truncate":
            steps = [
                ("DELETE FROM audit_decisioncard WHERE record_id >= %s", [p]),
                ("DELETE FROM audit_decisionrecord WHERE seq >= %s", [p]),
            ]
            expected = p
        elif kind == "hash":
            steps = [("UPDATE audit_decisionrecord SET hash = %s WHERE seq = %s", ["ab" * 32, p])]
            expected = p
        else:  # a forged row squeezed in at p, linked to p - 1; the tail moved up by one
            steps = [
                ("UPDATE audit_decisionrecord SET seq = seq + 100000 WHERE seq >= %s", [p]),
                ("UPDATE audit_decisionrecord SET seq = seq - 99999 WHERE seq >= 100000", []),
                _forged_insert(p),
            ]
            expected = p + 1  # the forgery links and passes; the original no longer links
        message = _tampered(steps)
        assert message, kind
        assert f"record {expected}:" in message, (kind, p, message)
        cases += 1
    assert verify_command().startswith("OK")  # every change was undone
    assert cases == 36


def test_export_verifies_alone_without_django_and_catches_an_edit(
    stored_log: int, tmp_path: Path
) -> None:
    export = tmp_path / "log.jsonl"
    call_command("audit_export", "--output", str(export), stdout=io.StringIO())
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['verify_export', {str(export)!r}]\n"
        "try:\n"
        f"    runpy.run_path({str(ROOT / 'audit' / 'verify_export.py')!r}, run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code, 'django' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin"}  # no DJANGO_SETTINGS_MODULE, no project on sys.path
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert "exit 0 False" in done.stdout, done.stderr
    assert f"OK: {SIZE} records, 5 signed checkpoints" in done.stdout

    lines = export.read_text().splitlines()
    record_lines = [i for i, line in enumerate(lines) if '"type": "record"' in line]
    target = record_lines[41]
    item = json.loads(lines[target])
    item["body"] = item["body"].replace("diabetes-therapy", "statin-therapy")
    lines[target] = json.dumps(item)
    export.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "audit" / "verify_export.py"), str(export)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "FAILED: record 42: hash does not match the body" in done.stderr


def test_an_export_cut_short_with_its_checkpoints_fails_against_kept_checkpoints(
    stored_log: int, tmp_path: Path
) -> None:
    full = io.StringIO()
    call_command("audit_export", stdout=full)
    lines = full.getvalue().splitlines()
    kept = [line for line in lines if '"type": "checkpoint"' in line]
    # The attacker drops the last 30 records and every checkpoint beyond 75.
    cut = [
        line
        for line in lines
        if not ('"type": "checkpoint"' in line and json.loads(line)["tree_size"] > 75)
        and not ('"type": "record"' in line and json.loads(line)["seq"] > 90)
    ]
    report, _ = export_verify(io.StringIO("\n".join(cut)))
    assert report.ok  # nothing in the file itself betrays it ...
    report, _ = export_verify(
        io.StringIO("\n".join(cut)),
        extra_checkpoints=[chain.Checkpoint.from_json(json.loads(line)) for line in kept],
    )
    assert str(report.problem).startswith("record 91: missing")  # ... the auditor's copy does


def test_audit_prove_prints_verified_inclusion_and_consistency_proofs(stored_log: int) -> None:
    out = io.StringIO()
    call_command("audit_prove", "--seq", "42", stdout=out)
    proof = json.loads(out.getvalue())
    assert proof["verified"] is True
    assert proof["tree_size"] == 50
    assert len(proof["proof"]) == 6  # ceil(log2(50))
    out = io.StringIO()
    call_command("audit_prove", "--old-size", "25", "--size", str(SIZE), stdout=out)
    assert json.loads(out.getvalue())["verified"] is True
    with pytest.raises(CommandError):
        call_command("audit_prove", "--seq", "9999", stdout=io.StringIO())
