from __future__ import annotations

from django.urls import path

from cds.views import DiscoveryView, FeedbackView, HookView

urlpatterns = [
    path("cds-services", DiscoveryView.as_view(), name="cds-discovery"),
    path("cds-services/<slug:service_id>", HookView.as_view(), name="cds-hook"),
    path("cds-services/<slug:service_id>/feedback", FeedbackView.as_view(), name="cds-feedback"),
]
