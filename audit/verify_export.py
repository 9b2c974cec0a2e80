"""Verify an exported decision log with nothing but Python and `cryptography`.

    python audit/verify_export.py EXPORT.jsonl [--public-key KEY.pem] [--checkpoints CP.jsonl]

An auditor should take the public key from a trusted channel (`--public-key`), not from the
export itself, and may add checkpoints received earlier (`--checkpoints`) so that a log
cut short *and* stripped of its later checkpoints is still caught. Exit status 0: the log
verifies; 1: it does not (the first bad record is named); 2: the file cannot be read.
Needs only `audit/chain.py` beside this file: no Django, no settings, no database.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

if __package__ in (None, ""):  # run as a script: make `audit.chain` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit import chain

EXPORT_FORMAT = "cds-audit-export/1"


class ExportError(ValueError):
    """The file is not an export this verifier understands."""


def _load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ExportError("the public key is not Ed25519")
    return key


def _lines(handle: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ExportError(f"line {number} is not JSON") from exc
        if not isinstance(item, dict):
            raise ExportError(f"line {number} is not an object")
        yield number, item


def export_verify(
    handle: TextIO,
    *,
    public_key: Ed25519PublicKey | None = None,
    extra_checkpoints: list[chain.Checkpoint] | None = None,
) -> tuple[chain.VerifyReport, dict[str, Any]]:
    """Verify an export read from `handle`; returns the report and the header."""
    lines = _lines(handle)
    try:
        _, header = next(lines)
    except StopIteration as exc:
        raise ExportError("empty file") from exc
    if header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
        raise ExportError(f"line 1 is not a {EXPORT_FORMAT} header")
    key = public_key or _load_public_key(str(header.get("public_key_pem") or ""))
    checkpoints = list(extra_checkpoints or [])
    first_record: dict[str, Any] | None = None
    for number, item in lines:
        if item.get("type") == "checkpoint":
            try:
                checkpoints.append(chain.Checkpoint.from_json(item))
            except (KeyError, TypeError, ValueError) as exc:
                raise ExportError(f"line {number}: malformed checkpoint") from exc
        elif item.get("type") == "record":
            first_record = item
            break
        else:
            raise ExportError(f"line {number}: unknown line type {item.get('type')!r}")

    def records() -> Iterator[chain.ChainEntry]:
        pending = [first_record] if first_record is not None else []
        for item in pending:
            yield _entry(item)
        for number, item in lines:
            if item.get("type") != "record":
                raise ExportError(f"line {number}: a {item.get('type')!r} line among records")
            yield _entry(item)

    report = chain.chain_verify(records(), checkpoints=checkpoints, public_key=key)
    return report, header


def _entry(item: dict[str, Any]) -> chain.ChainEntry:
    seq = item.get("seq")
    body = item.get("body")
    return chain.ChainEntry(
        seq=seq if isinstance(seq, int) else -1,
        body=body.encode("utf-8") if isinstance(body, str) else b"",
        prev_hash=str(item.get("prev_hash") or ""),
        hash=str(item.get("hash") or ""),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an exported CDS decision log.")
    parser.add_argument("export", type=Path)
    parser.add_argument("--public-key", type=Path, help="PEM Ed25519 key from a trusted source")
    parser.add_argument("--checkpoints", type=Path, help="JSON lines of checkpoints kept earlier")
    args = parser.parse_args(argv)
    try:
        key = _load_public_key(args.public_key.read_bytes()) if args.public_key else None
        extra = []
        if args.checkpoints:
            with args.checkpoints.open(encoding="utf-8") as handle:
                extra = [chain.Checkpoint.from_json(item) for _, item in _lines(handle)]
        with args.export.open(encoding="utf-8") as handle:
            report, header = export_verify(handle, public_key=key, extra_checkpoints=extra)
    except (OSError, ExportError, ValueError) as exc:
        print(f"cannot verify: {exc}", file=sys.stderr)
        return 2
    if key is None:
        print(
            f"note: using the public key inside the export (key id {header.get('key_id')}); "
            "compare it with the key id the hospital published",
            file=sys.stderr,
        )
    if report.ok:
        print(
            f"OK: {report.records} records, {report.checkpoints_checked} signed checkpoints "
            f"matched, head {report.last_hash}"
        )
        return 0
    print(f"FAILED: {report.problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
