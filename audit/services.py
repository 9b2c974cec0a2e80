"""Writes to the decision log. The hook flow calls these inside the decision's transaction.

One writer at a time, across processes: on PostgreSQL a transaction-level advisory lock
(`pg_advisory_xact_lock`) is taken before the head is read, so two workers can never read
the same head and fork the chain, and the lock is released by COMMIT/ROLLBACK only, so a
rolled-back append leaves no gap (the next writer reuses the number). On SQLite the
connection begins every transaction with BEGIN IMMEDIATE (config/settings.py), which takes
the database write lock before the head is read. `seq` is the primary key, so even a bug in
the locking could not commit two records with one number.

If anything fails the caller's transaction is rolled back with the record and the hook
answers 503 `audit_unavailable`: no card leaves without its record.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit import chain
from audit.keys import patient_pseudonymize, signing_key
from audit.models import Checkpoint, DecisionCard, DecisionRecord
from config.errors import ApiError

logger = logging.getLogger(__name__)

# "CDSAUDIT" as a 64-bit integer: the one advisory lock key of the log.
ADVISORY_LOCK_KEY = 0x4344534155444954
RECORD_VERSION = 1


class AuditUnavailable(ApiError):
    """The record could not be written, so the decision is withheld (CDS Hooks: 503)."""

    status_code = 503
    code = "audit_unavailable"


def _audit_settings() -> dict[str, Any]:
    return dict(getattr(settings, "CDS_AUDIT", {}) or {})


# --- building the record body -------------------------------------------------------------


def _jsonable(value: Any, scrub: dict[str, str] | None = None) -> Any:
    """Make a value canonical-JSON-able: tuples to lists, non-finite floats to strings, and
    (with `scrub`) the patient's id replaced by its pseudonym wherever it is a whole string.

    A model that emits NaN must not make the hook fail for want of a JSON spelling; the
    record then says "NaN" literally, which a reviewer can see. Conversion and scrubbing
    are one walk: a model-ranked record holds ~900 values and the walk is on the hook path.
    """
    if isinstance(value, str):
        return scrub.get(value, value) if scrub else value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _jsonable(v, scrub) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, scrub) for v in value]
    if value is None or isinstance(value, int | bool):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item(), scrub)
    if hasattr(value, "tolist"):  # numpy arrays
        return _jsonable(value.tolist(), scrub)
    return str(value)


def _patient_scrub_map(patient_id: str, marker: str) -> dict[str, str] | None:
    """The whole strings that name the patient (context, draft orders) and their stand-ins."""
    if not patient_id:
        return None
    return {patient_id: marker, f"Patient/{patient_id}": f"Patient/{marker}"}


def _patient_id(event: dict[str, Any]) -> str:
    decision = event.get("decision") or {}
    ref = decision.get("patient_ref") or ""
    if isinstance(ref, str) and ref.startswith("Patient/"):
        return ref.split("/", 1)[1]
    context = event.get("context") or {}
    pid = context.get("patientId") if isinstance(context, dict) else None
    return pid if isinstance(pid, str) else ""


def _hook_fields(event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    patient_id = _patient_id(event)
    pseudonym = patient_pseudonymize(patient_id) if patient_id else ""
    scrubbed = _jsonable(event, _patient_scrub_map(patient_id, f"~{pseudonym}"))
    decision = scrubbed.get("decision")
    decision = decision if isinstance(decision, dict) else {}
    if "patient_ref" in decision:
        decision["patient_ref"] = f"Patient/~{pseudonym}" if pseudonym else ""
    context = scrubbed.get("context")
    context = context if isinstance(context, dict) else {}
    model = decision.get("model")
    model = model if isinstance(model, dict) else {}
    cards = ((scrubbed.get("response") or {}).get("cards")) or []
    fields = {
        "kind": DecisionRecord.KIND_HOOK,
        "client_id": str(scrubbed.get("client_id") or ""),
        "tenant": str(scrubbed.get("tenant") or ""),
        "user": str(decision.get("user") or context.get("userId") or ""),
        "hook_instance": str(scrubbed.get("hook_instance") or ""),
        "service_id": str(scrubbed.get("service_id") or ""),
        "patient_pseudonym": pseudonym,
        "model_artifact_sha256": str(model.get("artifact_sha256") or ""),
        "guideline_version": str(decision.get("guideline_version") or ""),
        "latency_ms": scrubbed.get("latency_ms"),
        "decision_seq": None,
        "outcome": "",
        "event": scrubbed,
    }
    return fields, [c for c in cards if isinstance(c, dict)]


def _feedback_fields(event: dict[str, Any]) -> dict[str, Any]:
    scrubbed = _jsonable(event)
    item = scrubbed.get("feedback") or {}
    card_uuid = str(item.get("card") or "")
    joined = (
        DecisionCard.objects.filter(
            card_uuid=card_uuid,
            record__service_id=str(scrubbed.get("service_id") or ""),
            record__client_id=str(scrubbed.get("client_id") or ""),
        )
        .select_related("record")
        .order_by("-record__seq")
        .first()
        if card_uuid
        else None
    )
    decision = joined.record if joined is not None else None
    return {
        "kind": DecisionRecord.KIND_FEEDBACK,
        "client_id": str(scrubbed.get("client_id") or ""),
        "tenant": str(scrubbed.get("tenant") or ""),
        "user": decision.user if decision else "",
        "hook_instance": decision.hook_instance if decision else "",
        "service_id": str(scrubbed.get("service_id") or ""),
        "patient_pseudonym": decision.patient_pseudonym if decision else "",
        "model_artifact_sha256": decision.model_artifact_sha256 if decision else "",
        "guideline_version": decision.guideline_version if decision else "",
        "latency_ms": None,
        "decision_seq": decision.seq if decision else None,
        "outcome": str(item.get("outcome") or ""),
        "event": scrubbed,
    }


# Columns copied from the body: audit.verification checks each copy against the body.
COLUMN_FIELDS = (
    "kind",
    "client_id",
    "tenant",
    "user",
    "hook_instance",
    "service_id",
    "patient_pseudonym",
    "model_artifact_sha256",
    "guideline_version",
    "latency_ms",
    "decision_seq",
    "outcome",
)


def record_columns(body: dict[str, Any]) -> dict[str, Any]:
    """The indexed columns a record row must carry, derived from its body."""
    columns = {name: body.get(name) for name in COLUMN_FIELDS}
    columns["time"] = datetime.fromisoformat(body["time"])
    return columns


# --- appending ----------------------------------------------------------------------------


def _writer_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
    # SQLite: BEGIN IMMEDIATE already holds the database write lock.


def _head() -> tuple[int, str]:
    last = DecisionRecord.objects.order_by("-seq").values_list("seq", "hash").first()
    return (last[0], last[1]) if last else (0, chain.GENESIS_HASH)


def _lock_and_head() -> tuple[int, str]:
    """Take the writer lock, then read the head (one round trip on PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM audit_writer_lock_head(%s)", [ADVISORY_LOCK_KEY])
            row = cursor.fetchone()
        return (int(row[0]), str(row[1])) if row else (0, chain.GENESIS_HASH)
    _writer_lock()
    return _head()


def _card_rows(cards: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (str(c.get("uuid")), str(c.get("indicator") or ""), str(c.get("summary") or "")[:140])
        for c in cards
        if c.get("uuid")
    ]


def _insert_pg(record: DecisionRecord, cards: list[tuple[str, str, str]]) -> None:
    """The record and its card index in one statement (one round trip, not two)."""
    quote = connection.ops.quote_name
    fields = DecisionRecord._meta.concrete_fields
    columns = ", ".join(quote(f.column) for f in fields)
    params: list[Any] = [f.get_db_prep_save(getattr(record, f.attname), connection) for f in fields]
    sql = f"INSERT INTO audit_decisionrecord ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    if cards:
        values = ", ".join(["(%s::varchar, %s::varchar, %s::varchar)"] * len(cards))
        sql = (
            f"WITH rec AS ({sql} RETURNING seq) "  # noqa: S608
            "INSERT INTO audit_decisioncard (record_id, card_uuid, indicator, summary) "
            f"SELECT rec.seq, v.u, v.i, v.s FROM rec, (VALUES {values}) AS v(u, i, s)"
        )
        params += [value for row in cards for value in row]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _append_locked(
    fields: dict[str, Any], cards: list[dict[str, Any]], head: tuple[int, str]
) -> DecisionRecord:
    seq, prev = head
    seq += 1
    now = timezone.now()
    data = {**fields, "v": RECORD_VERSION, "seq": seq, "time": now.isoformat()}
    # `fields` come from _jsonable (JSON types, string keys, finite floats) plus ints and
    # strings added here, so the canonical-form walk is not repeated inside the lock.
    body = chain.canonical_json(data, checked=True)
    record = DecisionRecord(
        seq=seq,
        body=body.decode("utf-8"),
        leaf_hash=chain.leaf_hash(body).hex(),
        prev_hash=prev,
        hash=chain.record_hash(prev, body),
        **record_columns(data),
    )
    card_rows = _card_rows(cards)
    if connection.vendor == "postgresql":
        _insert_pg(record, card_rows)
    else:
        record.save()
        DecisionCard.objects.bulk_create(
            [
                DecisionCard(record=record, card_uuid=u, indicator=i, summary=s)
                for u, i, s in card_rows
            ]
        )
    every = int(_audit_settings().get("CHECKPOINT_EVERY") or 0)
    if every and seq % every == 0:
        _checkpoint_locked(seq)
    return record


def _append(fields: dict[str, Any], cards: list[dict[str, Any]] | None = None) -> DecisionRecord:
    try:
        # No savepoint of its own: a failed append must fail the caller's whole transaction
        # anyway (no card without its record), and a savepoint costs two round trips.
        with transaction.atomic(savepoint=False):
            return _append_locked(fields, cards or [], _lock_and_head())
    except DatabaseError as exc:
        logger.error(
            "audit append failed kind=%s reason=%s", fields.get("kind"), type(exc).__name__
        )
        raise AuditUnavailable(
            "The decision could not be recorded, so it is withheld. Try again later."
        ) from exc


def decision_record_append(*, event: dict[str, Any]) -> str:
    """Append one record for a hook call or feedback and return its sequence number.

    Call inside the decision's `transaction.atomic()`: if this raises (`AuditUnavailable`),
    the whole decision rolls back and no card leaves.
    """
    kind = event.get("kind")
    if kind == DecisionRecord.KIND_FEEDBACK:
        record = _append(_feedback_fields(event))
    elif kind == DecisionRecord.KIND_HOOK:
        fields, cards = _hook_fields(event)
        record = _append(fields, cards)
    else:
        raise ValueError(f"unknown decision event kind {kind!r}")
    logger.info(
        "audit seq=%s kind=%s service=%s hookInstance=%s",
        record.seq,
        kind,
        record.service_id,
        record.hook_instance,
    )
    return str(record.seq)


def audit_access_record(
    *,
    user: str,
    action: str,
    decision_seq: int | None = None,
    patient_pseudonym: str = "",
    details: dict[str, Any] | None = None,
    tenant: str = "",
) -> int:
    """Append one record of a person viewing or exporting patient data; return its seq.

    Args:
        user: who looked (the admin page's username).
        action: what they did, e.g. "decision.view", "decision.list", "export.csv".
        decision_seq: the decision record they opened, if one.
        patient_pseudonym: whose data they saw, if one patient.
        details: small JSON facts (filters used, row count); never patient identifiers.
    """
    if decision_seq is not None and not patient_pseudonym:
        patient_pseudonym = (
            DecisionRecord.objects.filter(seq=decision_seq)
            .values_list("patient_pseudonym", flat=True)
            .first()
            or ""
        )
    fields = {
        "kind": DecisionRecord.KIND_ACCESS,
        "client_id": "",
        "tenant": tenant,
        "user": user,
        "hook_instance": "",
        "service_id": "",
        "patient_pseudonym": patient_pseudonym,
        "model_artifact_sha256": "",
        "guideline_version": "",
        "latency_ms": None,
        "decision_seq": decision_seq,
        "outcome": "",
        "event": {"action": action, "details": _jsonable(details or {})},
    }
    return _append(fields).seq


# --- checkpoints --------------------------------------------------------------------------


def _checkpoint_locked(size: int) -> Checkpoint | None:
    if size <= 0 or Checkpoint.objects.filter(tree_size=size).exists():
        return None
    last = Checkpoint.objects.filter(tree_size__lt=size).order_by("-tree_size").first()
    frontier = (
        chain.MerkleFrontier(last.tree_size, [bytes.fromhex(h) for h in last.frontier])
        if last
        else chain.MerkleFrontier()
    )
    # The root covers what the bodies say, recomputed, not the stored leaf_hash copies.
    bodies = (
        DecisionRecord.objects.filter(seq__gt=frontier.size, seq__lte=size)
        .order_by("seq")
        .values_list("body", flat=True)
    )
    for body in bodies.iterator(chunk_size=2000):
        frontier.append(chain.leaf_hash(body.encode("utf-8")))
    if frontier.size != size:
        raise DatabaseError(f"log has a gap below {size}; refusing to sign a checkpoint")
    head = DecisionRecord.objects.filter(seq=size).values_list("hash", flat=True).first()
    signed = chain.checkpoint_sign(
        private_key=signing_key(),
        tree_size=size,
        root=frontier.root(),
        chain_head=head or chain.GENESIS_HASH,
        time=timezone.now().isoformat(),
    )
    row = Checkpoint(
        tree_size=signed.tree_size,
        root=signed.root,
        chain_head=signed.chain_head,
        time=signed.time,
        key_id=signed.key_id,
        signature=signed.signature,
        frontier=[n.hex() for n in frontier.nodes],
    )
    row.save()
    return row


def checkpoint_create() -> Checkpoint | None:
    """Sign a checkpoint at the current size (None when the log is empty or already signed)."""
    with transaction.atomic():
        _writer_lock()
        size, _ = _head()
        return _checkpoint_locked(size)
