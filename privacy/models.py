"""Model registry (content-addressed artifacts, activation per task) and the privacy
budget ledger per dataset. Writes go only through `privacy.services`."""

from __future__ import annotations

from django.db import models


class ModelArtifact(models.Model):
    """A trained model: canonical JSON bytes whose sha256 is the primary key."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    task = models.CharField(max_length=40, db_index=True)
    content = models.BinaryField()
    card = models.JSONField(default=dict)  # model card: data, features, DP facts, metrics
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.task}@{self.sha256[:12]}"


class ModelActivation(models.Model):
    """Which artifact serves a task (one row per task; replaced on activation)."""

    task = models.CharField(max_length=40, unique=True)
    artifact = models.ForeignKey(ModelArtifact, on_delete=models.PROTECT, related_name="+")
    activated_at = models.DateTimeField(auto_now=True)
    activated_by = models.CharField(max_length=120, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.task} -> {self.artifact_id}"


class PrivacyBudget(models.Model):
    """Total (epsilon, delta) a dataset may spend across all DP runs on it."""

    dataset = models.CharField(max_length=255, unique=True)
    epsilon_limit = models.FloatField()
    delta_limit = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.dataset} (eps {self.epsilon_limit}, delta {self.delta_limit})"


class PrivacyCharge(models.Model):
    """One DP run's spend, recorded before the run starts (a crashed run still counts:
    its noise was drawn from the data)."""

    budget = models.ForeignKey(PrivacyBudget, on_delete=models.PROTECT, related_name="charges")
    task = models.CharField(max_length=40)
    epsilon = models.FloatField()
    delta = models.FloatField()
    accountant = models.CharField(max_length=10)
    artifact_sha256 = models.CharField(max_length=64, blank=True, default="")
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"{self.task}: eps {self.epsilon:g}, delta {self.delta:g}"
