from __future__ import annotations

from django.contrib import admin

from ehr_integration.models import EhrClient


@admin.register(EhrClient)
class EhrClientAdmin(admin.ModelAdmin):
    list_display = ("issuer", "name", "tenant", "fhir_base_url", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("issuer", "name", "tenant")
