"""Clinician feedback on cards (CDS Hooks §Feedback), kept beside the decision it answers."""

from __future__ import annotations

from django.db import models


class CardFeedback(models.Model):
    """One feedback item: a card accepted (with suggestions) or overridden (with a reason)."""

    service_id = models.CharField(max_length=100, db_index=True)
    card_uuid = models.CharField(max_length=256, db_index=True)
    outcome = models.CharField(max_length=20)
    outcome_timestamp = models.CharField(max_length=64)
    accepted_suggestions = models.JSONField(default=list, blank=True)
    override_reason = models.JSONField(null=True, blank=True)
    client_id = models.CharField(max_length=64, db_index=True)
    tenant = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.service_id} {self.card_uuid} {self.outcome}"
