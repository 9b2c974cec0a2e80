"""Verify the decision log as stored in the database (the shell around `audit.chain`).

Besides the chain and the signed checkpoints, it checks that every indexed column and the
stored leaf hash agree with the record body, so a quiet edit of a filter column (say the
service of a decision) is caught as surely as an edit of the body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from audit import chain
from audit.keys import public_key
from audit.models import Checkpoint, DecisionRecord
from audit.services import COLUMN_FIELDS, record_columns


def _db_entries(chunk_size: int = 2000) -> Iterator[tuple[chain.ChainEntry, dict[str, Any]]]:
    fields = ("seq", "body", "prev_hash", "hash", "leaf_hash", "time", *COLUMN_FIELDS)
    rows = DecisionRecord.objects.order_by("seq").values_list(*fields)
    for row in rows.iterator(chunk_size=chunk_size):
        values = dict(zip(fields, row, strict=True))
        entry = chain.ChainEntry(
            seq=values["seq"],
            body=values["body"].encode("utf-8"),
            prev_hash=values["prev_hash"],
            hash=values["hash"],
        )
        yield entry, values


def checkpoints_stored() -> list[chain.Checkpoint]:
    return [
        chain.Checkpoint(
            tree_size=c.tree_size,
            root=c.root,
            chain_head=c.chain_head,
            time=c.time,
            key_id=c.key_id,
            signature=c.signature,
        )
        for c in Checkpoint.objects.order_by("tree_size")
    ]


def audit_log_verify() -> chain.VerifyReport:
    """Walk the whole log once; the report names the first bad record, if any."""
    columns: dict[int, dict[str, Any]] = {}

    def entries() -> Iterator[chain.ChainEntry]:
        for entry, values in _db_entries():
            columns.clear()
            columns[entry.seq] = values
            yield entry

    def body_check(seq: int, data: dict[str, Any]) -> str | None:
        stored = columns.get(seq) or {}
        if stored.get("leaf_hash") != chain.leaf_hash(_body_bytes(stored)).hex():
            return "stored leaf hash does not match the body"
        try:
            want = record_columns(data)
        except (KeyError, TypeError, ValueError):
            return "body lacks the fields of a record"
        for name, value in want.items():
            if stored.get(name) != value:
                return f"column {name} does not match the body (edited column)"
        return None

    return chain.chain_verify(
        entries(),
        checkpoints=checkpoints_stored(),
        public_key=public_key(),
        body_check=body_check,
    )


def _body_bytes(values: dict[str, Any]) -> bytes:
    return str(values.get("body") or "").encode("utf-8")
