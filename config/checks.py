"""System checks that refuse an unsafe production configuration (run at every start)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=False)
def cds_configuration_check(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    hooks = settings.CDS_HOOKS
    base = urlsplit(hooks["PUBLIC_BASE_URL"])
    if base.scheme not in {"http", "https"} or not base.netloc:
        problems.append(
            Error("CDS_PUBLIC_BASE_URL must be an absolute http(s) URL.", id="cds.E001")
        )
    weak = {a for a in hooks["JWT_ALGORITHMS"] if a == "none" or a.startswith("HS")}
    if weak:
        problems.append(
            Error(
                f"CDS_JWT_ALGORITHMS contains symmetric or empty algorithms {sorted(weak)}; "
                "CDS Hooks requires asymmetric signatures.",
                id="cds.E002",
            )
        )
    if settings.IS_PRODUCTION:
        if not settings.SECRET_KEY or settings.SECRET_KEY == settings.DEV_SECRET_KEY:
            problems.append(Error("CDS_SECRET_KEY must be set in production.", id="cds.E003"))
        if base.scheme != "https":
            problems.append(
                Error("CDS_PUBLIC_BASE_URL must be https in production.", id="cds.E004")
            )
        if settings.DEBUG:
            problems.append(Error("CDS_DEBUG must be off in production.", id="cds.E005"))
        if getattr(settings, "CDS_BENCH_BARE_ENDPOINT", False):
            problems.append(
                Error(
                    "CDS_BENCH_BARE_ENDPOINT exposes an unauthenticated benchmark endpoint; "
                    "it must be off in production.",
                    id="cds.E006",
                )
            )
        if hooks["ALLOW_HTTP_FHIR"]:
            problems.append(
                Warning("CDS_ALLOW_HTTP_FHIR lets tokens travel in clear.", id="cds.W001")
            )
    return problems
