"""Validation of the review pages' query strings (strict, with size limits)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator

_HEX = RegexValidator(r"^[0-9a-fA-F]*$", "Use hexadecimal digits only.")
_PSEUDONYM = RegexValidator(r"^~?[0-9a-fA-F]*$", "A pseudonym is hexadecimal (a leading ~ is ok).")
MAX_PAGE = 100_000


_DATE = forms.DateInput(attrs={"type": "date"})


class DateRangeForm(forms.Form):
    date_from = forms.DateField(required=False, label="From", widget=_DATE)
    date_to = forms.DateField(required=False, label="To", widget=_DATE)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("The start date is after the end date.")
        return data


class DecisionFilterForm(DateRangeForm):
    service = forms.CharField(
        required=False, max_length=100, widget=forms.TextInput(attrs={"list": "services"})
    )
    clinician = forms.CharField(required=False, max_length=256)
    patient = forms.CharField(required=False, max_length=65, validators=[_PSEUDONYM])
    model = forms.CharField(
        required=False,
        min_length=6,
        max_length=64,
        validators=[_HEX],
        label="Model hash",
        widget=forms.TextInput(attrs={"list": "models"}),
    )
    outcome = forms.ChoiceField(
        required=False,
        choices=[
            ("", "any"),
            ("accepted", "accepted"),
            ("overridden", "overridden"),
            ("none", "no feedback"),
        ],
    )
    indicator = forms.ChoiceField(
        required=False,
        choices=[("", "any"), ("info", "info"), ("warning", "warning"), ("critical", "critical")],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for `audit.selectors.decision_list` (only the ones set)."""
        data = self.cleaned_data
        kwargs = {
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "service_id": data.get("service") or "",
            "clinician": data.get("clinician") or "",
            "patient_pseudonym": (data.get("patient") or "").lstrip("~"),
            "model_version": data.get("model") or "",
            "outcome": data.get("outcome") or "",
            "indicator": data.get("indicator") or "",
        }
        return {k: v for k, v in kwargs.items() if v not in (None, "")}


def filters_details(filters: dict[str, Any]) -> dict[str, str]:
    """The filters used, as small JSON for the access record."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else str(v) for k, v in filters.items()}


class AnalyticsForm(DateRangeForm):
    service = forms.CharField(required=False, max_length=100)
