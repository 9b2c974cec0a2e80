"""Inclusion and consistency proofs for auditors (RFC 6962), from the stored log."""

from __future__ import annotations

from typing import Any

from audit import chain
from audit.models import Checkpoint, DecisionRecord
from config.errors import NotFound


def _leaves(size: int) -> list[bytes]:
    rows = DecisionRecord.objects.filter(seq__lte=size).order_by("seq")
    return [bytes.fromhex(h) for h in rows.values_list("leaf_hash", flat=True).iterator(2000)]


def inclusion_proof_build(*, seq: int, tree_size: int | None = None) -> dict[str, Any]:
    """Prove record `seq` is in the signed checkpoint of `tree_size` (default: the first
    checkpoint that covers it). The proof is checked against the signed root before it is
    returned, so a proof from a damaged log is refused rather than handed out.

    Raises:
        NotFound: no such record, or no checkpoint covers it yet.
    """
    record = DecisionRecord.objects.filter(seq=seq).first()
    if record is None:
        raise NotFound("No record with this number.", details={"seq": seq})
    checkpoints = Checkpoint.objects.filter(tree_size__gte=seq)
    if tree_size is not None:
        checkpoints = checkpoints.filter(tree_size=tree_size)
    checkpoint = checkpoints.order_by("tree_size").first()
    if checkpoint is None:
        raise NotFound(
            "No signed checkpoint covers this record yet (run audit_checkpoint).",
            details={"seq": seq},
        )
    leaves = _leaves(checkpoint.tree_size)
    leaf = chain.leaf_hash(record.body.encode("utf-8"))
    proof = chain.inclusion_proof(leaves, seq - 1, checkpoint.tree_size)
    ok = chain.inclusion_verify(
        leaf=leaf,
        index=seq - 1,
        size=checkpoint.tree_size,
        proof=proof,
        root=bytes.fromhex(checkpoint.root),
    )
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "leaf_hash": leaf.hex(),
        "body": record.body,
        "tree_size": checkpoint.tree_size,
        "proof": [p.hex() for p in proof],
        "verified": ok,
        "checkpoint": {
            "tree_size": checkpoint.tree_size,
            "root": checkpoint.root,
            "chain_head": checkpoint.chain_head,
            "time": checkpoint.time,
            "key_id": checkpoint.key_id,
            "signature": checkpoint.signature,
        },
    }


def consistency_proof_build(*, old_size: int, new_size: int) -> dict[str, Any]:
    """Prove the signed tree of `old_size` is a prefix of the signed tree of `new_size`."""
    old = Checkpoint.objects.filter(tree_size=old_size).first()
    new = Checkpoint.objects.filter(tree_size=new_size).first()
    if old is None or new is None or old_size > new_size:
        raise NotFound("Both sizes must be signed checkpoints, old <= new.")
    proof = chain.consistency_proof(_leaves(new_size), old_size, new_size)
    ok = chain.consistency_verify(
        old_size=old_size,
        new_size=new_size,
        old_root=bytes.fromhex(old.root),
        new_root=bytes.fromhex(new.root),
        proof=proof,
    )
    return {
        "old_size": old_size,
        "new_size": new_size,
        "old_root": old.root,
        "new_root": new.root,
        "proof": [p.hex() for p in proof],
        "verified": ok,
    }
