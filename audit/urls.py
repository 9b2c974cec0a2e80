"""Review pages under /audit/ (config/urls.py includes this module)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.review_home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="audit/login.html", redirect_authenticated_user=True, next_page="/audit/"
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="/audit/login/"), name="logout"),
    path("decisions/", views.decision_list_view, name="decision-list"),
    path("decisions/<int:seq>/", views.decision_detail_view, name="decision-detail"),
    path("analytics/", views.analytics_view, name="analytics"),
    path("export.csv", views.export_csv_view, name="export-csv"),
    path("export.fhir.json", views.export_fhir_view, name="export-fhir"),
]
