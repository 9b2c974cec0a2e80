from __future__ import annotations

from django.apps import AppConfig


class EhrIntegrationConfig(AppConfig):
    name = "ehr_integration"
    verbose_name = "EHR integration"
