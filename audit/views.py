"""Review pages for auditors, hospital admins and integrators (server-rendered, logged in).

Views only validate, call selectors and render. Every response that shows patient data
(the decision list, a decision, an export) first appends an access record to the decision
log; if that record cannot be written the data is not shown (503), the same rule as "no
card without its record". Integrators see only aggregate analytics.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe

from audit import fhir_export, plots, selectors
from audit.forms import AnalyticsForm, DecisionFilterForm, filters_details
from audit.render import markdown_html
from audit.roles import can_view_analytics, can_view_patient_data, user_roles, user_tenants
from audit.services import AuditUnavailable, audit_access_record
from config.errors import NotFound, error_response
from privacy.ml.explain_words import feature_value_words, target_words, top_factors

logger = logging.getLogger(__name__)

LOGIN_URL = "/audit/login/"
PAGE_SIZE = 50
SERVER_NAME = "privacy-cds"
# Spreadsheet formula injection (OWASP CSV injection): a cell starting with one of these is
# prefixed with a quote so a reviewer opening the export in a spreadsheet runs nothing.
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _export_max_rows() -> int:
    return int((getattr(settings, "CDS_AUDIT", {}) or {}).get("EXPORT_MAX_ROWS") or 10_000)


def _refuse(request: HttpRequest, *, json_body: bool = False) -> HttpResponse:
    logger.info("audit review refused user=%s path=%s", request.user.get_username(), request.path)
    message = "Your account has no review role that allows this page."
    if json_body:
        return error_response(403, "forbidden", message)
    return render(
        request,
        "audit/forbidden.html",
        {"message": message, "roles": sorted(user_roles(request.user))},
        status=403,
    )


def _requires(
    check: Callable[[Any], bool], *, json_body: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not check(request.user):
                return _refuse(request, json_body=json_body)
            return view(request, *args, **kwargs)

        return login_required(wrapped, login_url=LOGIN_URL)

    return decorate


def _access_record(request: HttpRequest, **kwargs: Any) -> HttpResponse | None:
    """Append the access record; a 503 response when it cannot be written."""
    try:
        audit_access_record(user=request.user.get_username(), **kwargs)
    except AuditUnavailable as exc:
        return error_response(503, exc.code, exc.message)
    return None


def _bad_filters(form: DecisionFilterForm | AnalyticsForm) -> HttpResponse:
    return error_response(
        400, "invalid_filters", "The filters are not valid.", details=form.errors.get_json_data()
    )


@login_required(login_url=LOGIN_URL)
def review_home(request: HttpRequest) -> HttpResponse:
    if can_view_patient_data(request.user):
        return redirect("audit:decision-list")
    if can_view_analytics(request.user):
        return redirect("audit:analytics")
    return _refuse(request)


# --- decision list ------------------------------------------------------------------------


@_requires(can_view_patient_data)
def decision_list_view(request: HttpRequest) -> HttpResponse:
    form = DecisionFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        response = render(
            request,
            "audit/decision_list.html",
            {
                "form": form,
                "page": None,
                "choices": selectors.decision_filter_choices(tenants=user_tenants(request.user)),
            },
            status=400,
        )
        return response
    filters = form.filters() if form.is_bound else {}
    page_number = (form.cleaned_data.get("page") if form.is_bound else None) or 1
    rows = selectors.decision_outcomes_annotate(
        selectors.decision_list(**filters, tenants=user_tenants(request.user))
    )
    rows = rows.prefetch_related("cards")
    page = Paginator(rows, PAGE_SIZE).get_page(page_number)
    failed = _access_record(
        request,
        action="decision.list",
        details={
            "filters": filters_details(filters),
            "page": page.number,
            "seqs": [r.seq for r in page.object_list],
        },
    )
    if failed:
        return failed
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/decision_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "choices": selectors.decision_filter_choices(tenants=user_tenants(request.user)),
            "total": page.paginator.count,
        },
    )


# --- decision detail ----------------------------------------------------------------------


def _feedback_view(record: Any) -> dict[str, Any]:
    item = (record.data.get("event") or {}).get("feedback") or {}
    reason = item.get("overrideReason") or {}
    reason_code = reason.get("reason") if isinstance(reason, dict) else None
    return {
        "seq": record.seq,
        "time": record.time,
        "card": item.get("card", ""),
        "outcome": item.get("outcome", ""),
        "reason": (reason_code or {}).get("display", "") if isinstance(reason_code, dict) else "",
        "comment": reason.get("userComment", "") if isinstance(reason, dict) else "",
        "accepted": len(item.get("acceptedSuggestions") or []),
    }


def _explanation_views(decision: dict[str, Any]) -> list[dict[str, Any]]:
    features = decision.get("features") or {}
    out = []
    for i, explanation in enumerate(decision.get("explanations") or []):
        if not isinstance(explanation, dict) or not isinstance(explanation.get("values"), dict):
            continue
        values = {
            k: float(v) for k, v in explanation["values"].items() if isinstance(v, int | float)
        }
        labels = {name: feature_value_words(name, features.get(name), features) for name in values}
        target = str(explanation.get("target", "?"))
        base, output = explanation.get("base_value"), explanation.get("output")
        if not isinstance(base, int | float) or not isinstance(output, int | float):
            continue
        residual = float(base) + sum(values.values()) - float(output)
        svg = plots.shap_waterfall_svg(
            base_value=float(base),
            values=values,
            output=float(output),
            labels=labels,
            title=f"{target} ({target_words(target)[0]}): SHAP contributions, model output scale",
            plot_id=f"shap-waterfall-{i}",
        )
        out.append(
            {
                "target": target,
                "base_value": base,
                "output": output,
                "residual": residual,
                "svg": mark_safe(svg),  # noqa: S308 - built by audit.plots, every label escaped
                "top": [(labels[n], v) for n, v in top_factors(values, top=5)],
            }
        )
    return out


@_requires(can_view_patient_data)
def decision_detail_view(request: HttpRequest, seq: int) -> HttpResponse:
    try:
        found = selectors.decision_get(seq=seq, tenants=user_tenants(request.user))
    except NotFound as exc:
        return error_response(404, exc.code, exc.message, details=exc.details)
    record = found["record"]
    failed = _access_record(request, action="decision.view", decision_seq=record.seq)
    if failed:
        return failed
    features = found["features"] if isinstance(found["features"], dict) else {}
    decision = {
        "features": features,
        "explanations": found["explanations"],
        "model": found["model"] if isinstance(found["model"], dict) else {},
    }
    card_views = [
        {
            "card": card,
            "detail_html": mark_safe(markdown_html(str(card.get("detail") or ""))),  # noqa: S308
        }
        for card in found["cards"]
        if isinstance(card, dict)
    ]
    risks = found["risks"] if isinstance(found["risks"], dict) else {}
    return render(
        request,
        "audit/decision_detail.html",
        {
            "record": record,
            "decision": decision,
            "hash_ok": found["hash_ok"],
            "cards": card_views,
            "features": [
                (name, value, feature_value_words(name, value, features))
                for name, value in features.items()
            ],
            "trace": [t for t in found["guideline_trace"] if isinstance(t, dict)],
            "candidates": [c for c in found["candidates"] if isinstance(c, dict)],
            "risks": sorted(risks.items()),
            "explanations": _explanation_views(decision),
            "feedback": [_feedback_view(f) for f in found["feedback"]],
        },
    )


# --- override analytics -------------------------------------------------------------------


def _short_key(by: str, key: str) -> str:
    if by == "model":
        return key[:12] or "(no model)"
    return key or "(none)"


@_requires(can_view_analytics)
def analytics_view(request: HttpRequest) -> HttpResponse:
    form = AnalyticsForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "audit/analytics.html", {"form": form, "sections": []}, status=400)
    data = form.cleaned_data if form.is_bound else {}
    stats = selectors.override_stats(
        tenants=user_tenants(request.user),
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        service_id=data.get("service") or "",
    )
    sections = []
    for by, title in (
        ("service", "Override rate by service"),
        ("rule", "Override rate by guideline rule"),
        ("model", "Override rate by model version"),
    ):
        rows = [
            {
                **r,
                "label": _short_key(by, r["key"]),
                "rate_pct": "—" if r["rate"] is None else f"{r['rate']:.0%}",
            }
            for r in stats[f"by_{by}"]
        ]
        svg = plots.rate_bars_svg(
            rows=[(r["label"], r["rate"], r["accepted"] + r["overridden"]) for r in rows],
            title=title,
            plot_id=f"override-by-{by}",
        )
        sections.append({"by": by, "title": title, "rows": rows, "svg": mark_safe(svg)})  # noqa: S308
    trend_svg = plots.rate_trend_svg(
        points=[(r["key"], r["rate"], r["accepted"] + r["overridden"]) for r in stats["by_day"]],
        title="Override rate over time (per day of feedback)",
        plot_id="override-trend",
    )
    return render(
        request,
        "audit/analytics.html",
        {
            "form": form,
            "sections": sections,
            "trend_svg": mark_safe(trend_svg),  # noqa: S308 - audit.plots escapes labels
        },
    )


# --- exports ------------------------------------------------------------------------------


def _export_rows(request: HttpRequest, *, action: str) -> list[Any] | HttpResponse:
    """The filtered decisions to export, after their access record is written; otherwise
    the 4xx/503 response to answer with (no rows leave without the record)."""
    form = DecisionFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return _bad_filters(form)
    filters = form.filters() if form.is_bound else {}
    limit = _export_max_rows()
    rows = selectors.decision_outcomes_annotate(
        selectors.decision_list(**filters, tenants=user_tenants(request.user))
    )
    rows = list(rows.prefetch_related("cards")[: limit + 1])
    if len(rows) > limit:
        return error_response(
            400,
            "export_too_large",
            "Narrow the filters: the export is capped.",
            details={"max_rows": limit},
        )
    failed = _access_record(request, action=action, details=_export_details(filters, rows))
    return failed or rows


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text


CSV_COLUMNS = (
    "seq",
    "time",
    "service_id",
    "hook_instance",
    "client_id",
    "tenant",
    "user",
    "patient_pseudonym",
    "model_artifact_sha256",
    "guideline_version",
    "latency_ms",
    "cards",
    "indicators",
    "card_summaries",
    "last_outcome",
    "top_factors",
    "hash",
    "prev_hash",
)


def _csv_row(record: Any) -> list[str]:
    cards = list(record.cards.all())
    decision = (record.data.get("event") or {}).get("decision") or {}
    explanations = decision.get("explanations") or []
    factors = ""
    if explanations and isinstance(explanations[0], dict):
        first = explanations[0]
        factors = f"{first.get('target')}: " + "; ".join(
            f"{name} {value:+.4f}" for name, value in top_factors(first.get("values") or {}, top=5)
        )
    values = {
        "seq": record.seq,
        "time": record.time.isoformat(),
        "service_id": record.service_id,
        "hook_instance": record.hook_instance,
        "client_id": record.client_id,
        "tenant": record.tenant,
        "user": record.user,
        "patient_pseudonym": record.patient_pseudonym,
        "model_artifact_sha256": record.model_artifact_sha256,
        "guideline_version": record.guideline_version,
        "latency_ms": "" if record.latency_ms is None else f"{record.latency_ms:.2f}",
        "cards": len(cards),
        "indicators": " ".join(c.indicator for c in cards),
        "card_summaries": " | ".join(c.summary for c in cards),
        "last_outcome": record.last_outcome or "",
        "top_factors": factors,
        "hash": record.hash,
        "prev_hash": record.prev_hash,
    }
    return [_csv_cell(values[c]) for c in CSV_COLUMNS]


def _export_details(filters: Any, rows: list[Any]) -> dict[str, Any]:
    return {
        "filters": filters_details(filters),
        "rows": len(rows),
        "seq_min": min((r.seq for r in rows), default=None),
        "seq_max": max((r.seq for r in rows), default=None),
    }


@_requires(can_view_patient_data, json_body=True)
def export_csv_view(request: HttpRequest) -> HttpResponse:
    rows = _export_rows(request, action="export.csv")
    if isinstance(rows, HttpResponse):
        return rows
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for record in rows:
        writer.writerow(_csv_row(record))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="decisions-{stamp}.csv"'
    return response


@_requires(can_view_patient_data, json_body=True)
def export_fhir_view(request: HttpRequest) -> HttpResponse:
    rows = _export_rows(request, action="export.fhir")
    if isinstance(rows, HttpResponse):
        return rows
    bundle = fhir_export.export_bundle(
        ((r.data, r.hash, r.prev_hash) for r in rows),
        server_name=SERVER_NAME,
        timestamp=timezone.now().isoformat(),
    )
    response = HttpResponse(
        json.dumps(bundle, indent=1), content_type="application/fhir+json; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="decisions-{stamp}.fhir.json"'
    return response
