"""A small, realistic decision log for the review-page tests (unit and browser).

Decisions are appended through the real `decision_record_append`, with real cards
(`cds.cards`), SHAP explanations computed by `privacy.ml.explain_core` and their words by
`privacy.ml.explain_words`, and feedback joined by card uuid, exactly as the hook flow does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from audit.services import decision_record_append
from cds.cards import Card, Coding, Source, Suggestion
from privacy.ml.explain_core import LinearShap
from privacy.ml.explain_words import explanations_markdown

FEATURES = ("egfr", "egfr_slope_per_year", "hba1c_pct", "age_years", "bmi", "hfref")
WEIGHTS = np.array([-0.04, -0.25, 0.35, 0.01, 0.02, 1.2])
BACKGROUND = np.array(
    [
        [85.0, -1.0, 7.0, 55.0, 29.0, 0.0],
        [70.0, -2.0, 7.8, 63.0, 31.0, 0.0],
        [55.0, -3.0, 8.4, 70.0, 27.0, 1.0],
    ]
)
MODEL_A = "a1" * 32
MODEL_B = "b2" * 32
RULES = ("ada-9.1-metformin-first", "ada-9.2-sglt2i-hf-ckd")


@dataclass(frozen=True)
class Seeded:
    seq: int
    patient_id: str
    card_uuid: str
    service_id: str
    model: str
    outcome: str


def _decision_event(
    *,
    patient_id: str,
    service_id: str,
    model: str,
    x: np.ndarray,
    indicator: str,
    summary: str,
    rule: str,
) -> tuple[dict[str, Any], str]:
    explainer = LinearShap(weight=WEIGHTS, bias=-0.5, background=BACKGROUND)
    explanations = explainer.explain(x).as_dicts(feature_names=FEATURES, targets=["sglt2i"])
    features = {name: float(v) for name, v in zip(FEATURES, x, strict=True)}
    card = Card(
        summary=summary,
        indicator=indicator,  # type: ignore[arg-type]
        source=Source(label="ADA Standards of Care 2025"),
        detail="Start an SGLT2 inhibitor.\n\n" + explanations_markdown(explanations, features),
        suggestions=(Suggestion(label="Order empagliflozin 10 mg"),),
        override_reasons=(
            Coding(code="patient-declined", system="http://example.org/r", display="Declined"),
        ),
    ).to_json()
    event = {
        "kind": "hook",
        "service_id": service_id,
        "hook": "patient-view",
        "hook_instance": str(uuid.uuid4()),
        "client_id": "ehr-main",
        "tenant": "general-hospital",
        "jti": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/dr-lee", "patientId": patient_id},
        "response": {"cards": [card]},
        "decision": {
            "patient_ref": f"Patient/{patient_id}",
            "user": "Practitioner/dr-lee",
            "features": features,
            "guideline_version": "gl-2025.1-" + "c" * 8,
            "guideline_trace": [
                {"rule": rule, "result": "fired", "why": "HF with reduced EF and eGFR >= 20"},
                {"rule": "acc-aha-bp-1", "result": "not_applicable", "why": "no hypertension"},
            ],
            "candidates": [
                {"action": "sglt2i", "concordant": True, "score": 0.81},
                {"action": "metformin", "concordant": True, "score": 0.64},
            ],
            "model": {"task": "t2d_drug", "artifact_sha256": model},
            "risks": {"ckd_progression": 0.23, "heart_failure": 0.11},
            "explanations": explanations,
        },
        "latency_ms": 7.5,
    }
    return event, card["uuid"]


def seed_log(
    *, decisions: int = 12, seed: int = 0, tenant: str = "general-hospital", first: int = 0
) -> list[Seeded]:
    """Append `decisions` hook records plus feedback on most of them.

    Pattern (by index i): service "diabetes-therapy" for even i, "hypertension-therapy" for
    odd; model A for i < decisions/2 else B; feedback: overridden when i % 3 == 0, accepted
    when i % 3 == 1, none when i % 3 == 2; indicator "critical" when i % 4 == 0 else "info".
    """
    rng = np.random.default_rng(seed)
    seeded = []
    for i in range(first, first + decisions):
        patient_id = f"pat-{i:03d}"
        service_id = "diabetes-therapy" if i % 2 == 0 else "hypertension-therapy"
        model = MODEL_A if i < decisions / 2 else MODEL_B
        x = BACKGROUND[i % 3] + rng.normal(scale=[8, 1, 0.6, 5, 2, 0])
        event, card_uuid = _decision_event(
            patient_id=patient_id,
            service_id=service_id,
            model=model,
            x=x,
            indicator="critical" if i % 4 == 0 else "info",
            summary=f"Consider an SGLT2 inhibitor (case {i})",
            rule=RULES[i % 2],
        )
        event["tenant"] = tenant
        seq = int(decision_record_append(event=event))
        outcome = ("overridden", "accepted", "")[i % 3]
        if outcome:
            item: dict[str, Any] = {
                "card": card_uuid,
                "outcome": outcome,
                "outcomeTimestamp": f"{date.today().isoformat()}T10:00:00Z",
            }
            if outcome == "overridden":
                item["overrideReason"] = {
                    "reason": {
                        "code": "patient-declined",
                        "system": "http://example.org/r",
                        "display": "Declined",
                    },
                    "userComment": "prefers to wait",
                }
            else:
                item["acceptedSuggestions"] = [{"id": "s1"}]
            decision_record_append(
                event={
                    "kind": "feedback",
                    "service_id": service_id,
                    "client_id": "ehr-main",
                    "tenant": tenant,
                    "jti": str(uuid.uuid4()),
                    "feedback": item,
                }
            )
        seeded.append(Seeded(seq, patient_id, card_uuid, service_id, model, outcome))
    return seeded


REVIEW_PASSWORD = "review-pass-1234"


def review_user(username: str, *roles: str, password: str = REVIEW_PASSWORD) -> Any:
    """A user with the given review roles (groups created on the way)."""
    from django.contrib.auth.models import User

    from audit.roles import roles_ensure

    roles_ensure()
    user = User.objects.create_user(username=username, password=password)
    from django.contrib.auth.models import Group

    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user
