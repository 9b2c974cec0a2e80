"""EHR clients that may call the CDS services, and the JWT ids already seen (replay guard)."""

from __future__ import annotations

import uuid

from django.db import models


def _default_algorithms() -> list[str]:
    return ["ES384", "RS384"]


class EhrClient(models.Model):
    """One registered EHR (CDS client): who it is, how to check its signatures, what it may call."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, blank=True)
    issuer = models.CharField(max_length=500, unique=True, help_text="JWT `iss` the EHR signs with")
    jwks = models.JSONField(
        null=True, blank=True, help_text="Pinned public JWK Set (preferred to jku)"
    )
    jku_allowlist = models.JSONField(
        default=list, blank=True, help_text="Exact JWKS URLs the service may fetch"
    )
    allowed_algorithms = models.JSONField(default=_default_algorithms)
    tenant = models.CharField(
        max_length=200, blank=True, help_text="Expected JWT `tenant`; empty when none"
    )
    fhir_base_url = models.URLField(max_length=500, blank=True)
    enabled_services = models.JSONField(
        default=list, blank=True, help_text="CDS service ids; empty means all services"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["issuer"]

    def __str__(self) -> str:
        return self.name or self.issuer


class SeenJti(models.Model):
    """A JWT id already accepted; the unique constraint makes replay checks race-free
    across worker processes on both SQLite and PostgreSQL."""

    issuer = models.CharField(max_length=500)
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "jti"], name="uniq_seen_jti_per_issuer")
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.jti}"
