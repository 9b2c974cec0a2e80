from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# JSON first: DRF renders errors (406, 400) with the first renderer, and every error a
# client sees must be the JSON error shape; YAML stays available via ?format=yaml.
SCHEMA_RENDERERS = [
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
]

urlpatterns = [
    path("", include("cds.urls")),
    path("api/v1/", include("ehr_integration.urls")),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(renderer_classes=SCHEMA_RENDERERS),
        name="openapi-schema",
    ),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
]

if settings.CDS_BENCH_BARE_ENDPOINT:
    from config.bench_views import BareView

    urlpatterns.append(path("bench/bare", BareView.as_view(), name="bench-bare"))

handler400 = "config.errors.handler400"
handler403 = "config.errors.handler403"
handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"
