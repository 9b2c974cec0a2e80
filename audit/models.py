"""The decision log's tables: append-only records, their card index, signed checkpoints.

A record's truth is its canonical `body` (hashed into the chain and the Merkle tree); the
other columns are copies of body fields kept so the review pages can filter with indexes.
`audit_verify` checks every copy against the body, so editing a column is detected too.

Rows are never updated or deleted: `save()` of an existing row, `delete()` and queryset
`update()`/`delete()` raise `AppendOnlyError`; on PostgreSQL triggers refuse the same at the
database (migration 0002), so raw SQL from the application role cannot do it either.
Writes go only through `audit.services`.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models


class AppendOnlyError(Exception):
    """Someone tried to change or remove a decision-log row."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    # bulk paths that would bypass save()
    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


class DecisionRecord(AppendOnlyModel):
    """One hook call, one feedback item or one access to patient data, hash-chained."""

    KIND_HOOK = "hook"
    KIND_FEEDBACK = "feedback"
    KIND_ACCESS = "access"
    KINDS = [(KIND_HOOK, "hook call"), (KIND_FEEDBACK, "feedback"), (KIND_ACCESS, "access")]

    seq = models.BigIntegerField(primary_key=True)  # 1, 2, 3, ... without gaps
    time = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=10, choices=KINDS, db_index=True)
    client_id = models.CharField(max_length=64, blank=True, db_index=True)
    tenant = models.CharField(max_length=200, blank=True)
    user = models.CharField(max_length=256, blank=True, db_index=True)
    hook_instance = models.CharField(max_length=256, blank=True, db_index=True)
    service_id = models.CharField(max_length=100, blank=True, db_index=True)
    patient_pseudonym = models.CharField(max_length=64, blank=True, db_index=True)
    model_artifact_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    guideline_version = models.CharField(max_length=128, blank=True)
    latency_ms = models.FloatField(null=True)
    # feedback rows: the decision they answer (joined by card uuid) and the outcome
    decision_seq = models.BigIntegerField(null=True, db_index=True)
    outcome = models.CharField(max_length=20, blank=True, db_index=True)
    body = models.TextField()  # canonical JSON, the hashed truth
    leaf_hash = models.CharField(max_length=64)  # RFC 6962 leaf hash of body (for proofs)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.service_id}"

    @property
    def data(self) -> dict[str, Any]:
        """The record as written (parsed body)."""
        cached = getattr(self, "_data", None)
        if cached is None:
            cached = json.loads(self.body)
            self._data = cached
        return cached


class DecisionCard(AppendOnlyModel):
    """Index of the cards a hook record showed, so feedback (by card uuid) finds its decision.

    Derived from the record body at append time; the body stays the authority.
    """

    record = models.ForeignKey(DecisionRecord, on_delete=models.PROTECT, related_name="cards")
    card_uuid = models.CharField(max_length=256, db_index=True)
    indicator = models.CharField(max_length=20, blank=True, db_index=True)
    summary = models.CharField(max_length=140, blank=True)

    def __str__(self) -> str:
        return f"{self.card_uuid} -> #{self.record_id}"


class Checkpoint(AppendOnlyModel):
    """A signed tree head: size, RFC 6962 root, chain head, time, key id, Ed25519 signature.

    `frontier` (the right edge of the tree, hex) lets the next checkpoint extend this one
    with only the new leaves; it is not signed and a wrong one only yields a checkpoint that
    fails verification.
    """

    tree_size = models.BigIntegerField(unique=True)
    root = models.CharField(max_length=64)
    chain_head = models.CharField(max_length=64)
    time = models.CharField(max_length=40)
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)
    frontier = models.JSONField(default=list)

    class Meta:
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} {self.root[:12]}"
