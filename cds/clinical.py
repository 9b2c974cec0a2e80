"""The clinical services wired into the catalog: prefetch -> record -> features -> advice.

Imported once at app ready (cds.apps) so `service_register` replaces the content-free
defaults. Everything clinical is in pure modules (ehr_integration.fhir, cds.guidelines,
cds.advice); this module only adapts a HookCall and injects the model ranking
(privacy.serving) and the explanation text (privacy.ml.explain_words, when present).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cds.advice import (
    Advice,
    care_gaps_advice,
    order_check_advice,
    therapy_advice,
    today_utc,
)
from cds.catalog import HookCall, ServiceOutcome, service_get, service_register
from cds.guidelines.engine import ruleset_default
from config.errors import PreconditionFailed
from ehr_integration.fhir.derive import features_current
from ehr_integration.fhir.record import PatientRecord
from ehr_integration.fhir.sources import RecordError, record_from_prefetch
from privacy.serving import candidates_rank

logger = logging.getLogger(__name__)


def ranking_explanation_text(explanations: Sequence[Any], features: Mapping[str, Any]) -> str:
    """Top SHAP factors in clinical words for the card detail, when the model issue's
    privacy.ml.explain_words is installed; empty text otherwise (never a failure)."""
    try:
        module = importlib.import_module("privacy.ml.explain_words")
    except ImportError:
        return ""
    render: Callable[..., str] | None = getattr(module, "explanations_markdown", None)
    return render(explanations, features) if render else ""


def ranking_safe(**kwargs: Any) -> Any:
    """The model ranks; the guideline decides. A failing model must not take the guideline
    advice down with it: the card then keeps the guideline's order and the log says why."""
    try:
        return candidates_rank(**kwargs)
    except Exception:  # any model/artifact failure; the guideline check does not depend on it
        logger.exception("ranking failed for task %s; guideline order kept", kwargs.get("task"))
        return None


def _record(call: HookCall) -> PatientRecord:
    try:
        return record_from_prefetch(call.prefetch)
    except RecordError as exc:
        raise PreconditionFailed(
            "The prefetch holds no usable Patient resource.", details={"reason": str(exc)}
        ) from exc


def _outcome(advice: Advice, call: HookCall) -> ServiceOutcome:
    decision = dict(advice.decision)
    decision["user"] = call.context.get("userId")
    decision = {k: v for k, v in decision.items() if v is not None}
    return ServiceOutcome(cards=advice.cards, decision=decision)


def _therapy(service_id: str) -> Callable[[HookCall], ServiceOutcome]:
    def evaluate(call: HookCall) -> ServiceOutcome:
        record = _record(call)
        features = features_current(record, today=today_utc())
        advice = therapy_advice(
            service=service_id,
            record=record,
            features=features,
            ruleset=ruleset_default(),
            ranker=ranking_safe,
            explainer=ranking_explanation_text,
        )
        return _outcome(advice, call)

    return evaluate


def _care_gaps(call: HookCall) -> ServiceOutcome:
    record = _record(call)
    features = features_current(record, today=today_utc())
    return _outcome(
        care_gaps_advice(record=record, features=features, ruleset=ruleset_default()), call
    )


def _order_check(call: HookCall) -> ServiceOutcome:
    record = _record(call)
    features = features_current(record, today=today_utc())
    selections = call.context.get("selections") if call.hook == "order-select" else None
    advice = order_check_advice(
        record=record,
        features=features,
        ruleset=ruleset_default(),
        draft_orders=call.context.get("draftOrders"),
        selections=selections,
    )
    return _outcome(advice, call)


EVALUATORS: dict[str, Callable[[HookCall], ServiceOutcome]] = {
    "diabetes-therapy": _therapy("diabetes-therapy"),
    "hypertension-therapy": _therapy("hypertension-therapy"),
    "statin-therapy": _therapy("statin-therapy"),
    "care-gaps": _care_gaps,
    "medication-order-select": _order_check,
    "medication-order-sign": _order_check,
}


def clinical_services_register() -> None:
    """Replace the catalog's content-free defaults with the guideline-backed evaluators."""
    ruleset_default()  # load and validate the rules at startup: a bad rule file fails fast
    for service_id, evaluate in EVALUATORS.items():
        definition = service_get(service_id)
        if definition is not None:
            service_register(replace(definition, evaluate=evaluate))
