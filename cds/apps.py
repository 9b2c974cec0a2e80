from __future__ import annotations

from django.apps import AppConfig


class CdsConfig(AppConfig):
    name = "cds"
    verbose_name = "CDS Hooks services"

    def ready(self) -> None:
        from cds.clinical import clinical_services_register

        clinical_services_register()
