"""The export an external auditor receives: JSON lines, verifiable with no Django.

Line 1 is a header (format, key id, public key PEM, record count), then every signed
checkpoint, then every record in seq order with its body as the exact canonical string that
was hashed. `audit/verify_export.py` checks such a file alone (see docs/audit.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from audit import chain
from audit.keys import public_key, public_key_pem
from audit.models import DecisionRecord
from audit.verification import checkpoints_stored

EXPORT_FORMAT = "cds-audit-export/1"


def export_lines() -> Iterator[str]:
    """Yield the export line by line (constant memory over any log size)."""
    checkpoints = checkpoints_stored()
    yield json.dumps(
        {
            "type": "header",
            "format": EXPORT_FORMAT,
            "key_id": chain.key_id_of(public_key()),
            "public_key_pem": public_key_pem(),
            "records": DecisionRecord.objects.count(),
        },
        sort_keys=True,
    )
    for cp in checkpoints:
        yield json.dumps({"type": "checkpoint", **cp.as_json()}, sort_keys=True)
    rows = DecisionRecord.objects.order_by("seq").values_list("seq", "prev_hash", "hash", "body")
    for seq, prev_hash, digest, body in rows.iterator(chunk_size=2000):
        yield json.dumps(
            {"type": "record", "seq": seq, "prev_hash": prev_hash, "hash": digest, "body": body},
            ensure_ascii=False,
            sort_keys=True,
        )
