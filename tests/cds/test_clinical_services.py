"""The clinical services end to end: real cards from hand-written patients, over HTTP."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from cds.advice import order_check_advice, therapy_advice
from cds.cards import card_validate, cards_response_validate
from cds.catalog import HookCall, service_get
from cds.guidelines.engine import ruleset_default
from ehr_integration.fhir.derive import features_current
from ehr_integration.fhir.sources import record_from_resources
from privacy.serving import Explanation, RankingResult, ScoredCandidate
from tests import fhir_factory as f
from tests.cds.guideline_patients import TODAY, born, bp3, dm, hf, htn, lab, on, pregnant
from tests.conftest import patient_view_body

RULES = ruleset_default()


def _record(*resources: dict[str, Any], age: float = 60, sex: str = "female"):
    return record_from_resources([f.patient(birth=born(age), sex=sex), *resources])


def _therapy(service: str, *resources: dict[str, Any], **kw: Any):
    record = _record(*resources)
    features = features_current(record, today=TODAY)
    advice = therapy_advice(service=service, record=record, features=features, ruleset=RULES, **kw)
    for card in advice.cards:
        card_validate(card)
    return advice


def test_new_diabetic_gets_metformin_with_rxnorm_order_citation_and_override_reasons() -> None:
    advice = _therapy("diabetes-therapy", dm(), lab("egfr", 80), lab("hba1c", 7.8))
    card = next(c for c in advice.cards if "metformin" in c["summary"])
    action = card["suggestions"][0]["actions"][0]
    coding = action["resource"]["medicationCodeableConcept"]["coding"][0]
    assert action["type"] == "create" and action["resource"]["resourceType"] == "MedicationRequest"
    assert coding == {
        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
        "code": "860975",
        "display": "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
    }
    assert card["links"][0]["url"] == "https://doi.org/10.2337/dc25-S009"
    assert len(card["overrideReasons"]) >= 3
    assert "ada25-9-metformin-first-line" in card["detail"]
    assert advice.decision["guideline_version"] == RULES.version
    assert {"rule", "result", "why"} <= set(advice.decision["guideline_trace"][0])
    assert all(c["concordant"] for c in advice.decision["candidates"])


def test_metformin_is_not_offered_at_egfr_25_and_glp1ra_is() -> None:
    advice = _therapy("diabetes-therapy", dm(), lab("egfr", 25), lab("hba1c", 8.0))
    summaries = " | ".join(c["summary"] for c in advice.cards)
    assert "Start metformin" not in summaries
    assert "GLP-1" in summaries


def test_diabetic_without_egfr_is_asked_for_it_instead_of_given_metformin() -> None:
    advice = _therapy("diabetes-therapy", dm(), lab("hba1c", 8.0))
    assert any(c["summary"].startswith("Check egfr") for c in advice.cards)
    assert not any("Start metformin" in c["summary"] for c in advice.cards)


def test_stage2_untreated_gets_two_drug_combination_without_acei_plus_arb() -> None:
    advice = _therapy("hypertension-therapy", htn(), *bp3(165, 100))
    combo = next(c for c in advice.cards if "two first-line" in c["summary"])
    codes = [
        a["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
        for a in combo["suggestions"][0]["actions"]
    ]
    assert len(codes) == 2 and not {"29046", "52175"} <= set(codes)


def test_pregnant_hypertensive_is_not_offered_acei_or_arb() -> None:
    advice = _therapy("hypertension-therapy", htn(), pregnant(), *bp3(150, 95))
    offered = [
        a["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
        for c in advice.cards
        for s in c.get("suggestions", [])
        for a in s.get("actions", [])
    ]
    assert offered and "29046" not in offered and "52175" not in offered
    assert {"7417", "6185"} <= set(offered)  # nifedipine, labetalol
    assert all(c["concordant"] for c in advice.decision["candidates"])


def test_patient_on_acei_while_pregnant_gets_a_review_warning() -> None:
    advice = _therapy("hypertension-therapy", htn(), pregnant(), on("acei"), *bp3(125, 75))
    assert any(c["indicator"] == "warning" and "ACE" in c["summary"] for c in advice.cards)


def test_model_ranking_reorders_options_and_explains() -> None:
    def ranker(*, task: str, features: Any, candidates: Any) -> RankingResult:
        assert task == "htn_drug" and "features" not in features
        return RankingResult(
            task=task,
            artifact_sha256="ab" * 32,
            ranked=(ScoredCandidate("acei", 0.9), ScoredCandidate("thiazide", 0.4)),
            risks={"stroke": 0.12},
            explanations=(Explanation("acei", 0.1, {"egfr": 0.5}, 0.6),),
        )

    advice = _therapy(
        "hypertension-therapy",
        htn(),
        *bp3(142, 85),
        ranker=ranker,
        explainer=lambda e, feats: "**Top factors:** eGFR",
    )
    card = next(c for c in advice.cards if "first-line" in c["summary"])
    assert card["summary"].startswith("Start ACE inhibitor")
    assert "Model ranking" in card["detail"] and "Top factors" in card["detail"]
    assert advice.decision["model"]["artifact_sha256"] == "ab" * 32
    assert advice.decision["risks"] == {"stroke": 0.12}
    assert advice.decision["explanations"][0]["target"] == "acei"


def test_without_a_model_the_guideline_order_stands() -> None:
    advice = _therapy("hypertension-therapy", htn(), *bp3(142, 85), ranker=lambda **kw: None)
    card = next(c for c in advice.cards if "first-line" in c["summary"])
    assert card["summary"].startswith("Start thiazide")


def test_statin_upgrade_card_for_ascvd_on_low_intensity() -> None:
    advice = _therapy("statin-therapy", f.condition("ascvd", "2016-01-01"), on("statin_low"))
    card = next(c for c in advice.cards if "Increase statin" in c["summary"])
    code = card["suggestions"][0]["actions"][0]["resource"]["medicationCodeableConcept"]
    assert code["coding"][0]["code"] == "259255"  # atorvastatin 80 mg, high intensity


def _drafts(*meds: dict[str, Any]) -> dict[str, Any]:
    return f.searchset(list(meds))


def test_order_sign_catches_acei_in_pregnancy_with_delete_and_replace() -> None:
    record = _record(htn(), pregnant())
    features = features_current(record, today=TODAY)
    draft = f.medication("acei", rid="draft-1", status="draft")
    advice = order_check_advice(
        record=record, features=features, ruleset=RULES, draft_orders=_drafts(draft)
    )
    (card,) = advice.cards
    card_validate(card)
    assert card["indicator"] == "critical"
    delete = card["suggestions"][0]["actions"][0]
    assert delete == {
        "type": "delete",
        "description": delete["description"],
        "resourceId": "MedicationRequest/draft-1",
    }
    replace = card["suggestions"][1]["actions"]
    assert replace[0]["type"] == "delete" and replace[1]["type"] == "create"
    assert replace[1]["resource"]["medicationCodeableConcept"]["coding"][0]["code"] == "7417"


def test_order_sign_catches_acei_with_arb_drafted_together() -> None:
    record = _record(htn())
    features = features_current(record, today=TODAY)
    drafts = _drafts(
        f.medication("acei", rid="a", status="draft"), f.medication("arb", rid="b", status="draft")
    )
    advice = order_check_advice(
        record=record, features=features, ruleset=RULES, draft_orders=drafts
    )
    assert {c["suggestions"][0]["actions"][0]["resourceId"] for c in advice.cards} == {
        "MedicationRequest/a",
        "MedicationRequest/b",
    }


def test_order_select_checks_only_the_selection() -> None:
    record = _record(htn())
    features = features_current(record, today=TODAY)
    drafts = _drafts(
        f.medication("acei", rid="a", status="draft"), f.medication("arb", rid="b", status="draft")
    )
    advice = order_check_advice(
        record=record,
        features=features,
        ruleset=RULES,
        draft_orders=drafts,
        selections=["MedicationRequest/a"],
    )
    assert len(advice.cards) == 1 and advice.decision["drafts_checked"] == 1


def test_a_safe_draft_gives_no_card() -> None:
    record = _record(dm(), lab("egfr", 80))
    features = features_current(record, today=TODAY)
    advice = order_check_advice(
        record=record,
        features=features,
        ruleset=RULES,
        draft_orders=_drafts(f.medication("metformin", status="draft")),
    )
    assert advice.cards == []
    assert advice.decision["candidates"][0]["concordant"] is True


def test_hfref_verapamil_draft_is_replaced_by_amlodipine() -> None:
    record = _record(hf(), htn(), lab("lvef", 30))
    features = features_current(record, today=TODAY)
    advice = order_check_advice(
        record=record,
        features=features,
        ruleset=RULES,
        draft_orders=_drafts(f.medication("ccb_nondhp", rid="v")),
    )
    (card,) = advice.cards
    assert (
        card["suggestions"][1]["actions"][1]["resource"]["medicationCodeableConcept"]["coding"][0][
            "code"
        ]
        == "197361"
    )


# --- over HTTP, through the hook flow and audit --------------------------------------


def _post(api: Any, make_token: Any, service: str, body: dict[str, Any]) -> Any:
    route = f"/cds-services/{service}"
    return api.post(route, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(route)}")


@pytest.mark.django_db
def test_http_diabetes_therapy_returns_a_metformin_card(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    body = patient_view_body("p1")
    body["prefetch"] = f.prefetch(
        f.patient(birth="1960-01-01"),
        dm(),
        f.observation("egfr", 85, str(date.today())),
    )
    response = _post(api, make_token, "diabetes-therapy", body)
    assert response.status_code == 200, response.content
    cards_response_validate(response.json())
    assert any("metformin" in c["summary"] for c in response.json()["cards"])


@pytest.mark.django_db
def test_http_order_sign_returns_a_critical_card(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    body = patient_view_body("p1")
    body["hook"] = "order-sign"
    pre = f.prefetch(
        f.patient(birth="1990-01-01"), htn(), f.condition("pregnancy", str(date.today()))
    )
    body["prefetch"] = pre
    draft = f.medication("arb", rid="d1", status="draft")
    body["context"] = {
        "userId": "Practitioner/1",
        "patientId": "p1",
        "draftOrders": f.searchset([draft]),
    }
    response = _post(api, make_token, "medication-order-sign", body)
    assert response.status_code == 200, response.content
    (card,) = response.json()["cards"]
    assert card["indicator"] == "critical"


@pytest.mark.django_db
def test_http_prefetch_without_patient_is_412(api: Any, trusted_ehr: Any, make_token: Any) -> None:
    body = patient_view_body("p1")
    body["prefetch"]["patient"] = {"resourceType": "Observation", "id": "x"}
    response = _post(api, make_token, "care-gaps", body)
    assert response.status_code == 412
    assert set(response.json()) >= {"error", "message"}


def test_the_catalog_holds_the_clinical_evaluators() -> None:
    for service_id in ("diabetes-therapy", "care-gaps", "medication-order-sign"):
        definition = service_get(service_id)
        assert definition is not None and definition.evaluate.__module__ == "cds.clinical"


def test_evaluator_decision_keys(settings: Any) -> None:
    from cds.clinical import EVALUATORS

    call = HookCall(
        service_id="care-gaps",
        hook="patient-view",
        hook_instance=str(uuid.uuid4()),
        context={"userId": "Practitioner/9", "patientId": "p1"},
        prefetch=f.prefetch(f.patient(), dm()),
        fhir_server="",
        caller_client_id="c",
        caller_tenant="t",
    )
    outcome = EVALUATORS["care-gaps"](call)
    assert outcome.decision["user"] == "Practitioner/9"
    assert outcome.decision["patient_ref"] == "Patient/p1"
    assert set(outcome.decision) >= {"features", "guideline_version", "guideline_trace"}
    assert any("HbA1c" in c["summary"] for c in outcome.cards)


def test_a_failing_model_keeps_the_guideline_order(monkeypatch: pytest.MonkeyPatch) -> None:
    import cds.clinical

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("artifact unreadable")

    monkeypatch.setattr(cds.clinical, "candidates_rank", broken)
    assert cds.clinical.ranking_safe(task="htn_drug", features={}, candidates=("acei",)) is None


@pytest.mark.django_db
def test_with_the_demo_models_active_the_card_shows_ranking_risks_and_factors() -> None:
    from pathlib import Path

    from cds.clinical import EVALUATORS
    from privacy import serving
    from privacy.services import demo_artifacts_activate

    serving.cache_clear()
    try:
        demo_artifacts_activate(
            directory=Path(__file__).resolve().parents[2] / "privacy" / "artifacts"
        )
        today = str(date.today())
        call = HookCall(
            service_id="hypertension-therapy",
            hook="patient-view",
            hook_instance=str(uuid.uuid4()),
            context={"userId": "Practitioner/9", "patientId": "p1"},
            prefetch=f.prefetch(
                f.patient(birth="1960-01-01"), htn(), *[f.bp(146, 88, today) for _ in range(3)]
            ),
            fhir_server="",
            caller_client_id="c",
            caller_tenant="t",
        )
        outcome = EVALUATORS["hypertension-therapy"](call)
    finally:
        serving.cache_clear()
    card = next(c for c in outcome.cards if "first-line" in c["summary"])
    assert "Model ranking" in card["detail"]
    assert outcome.decision["model"]["task"] == "htn_drug"
    assert len(outcome.decision["model"]["artifact_sha256"]) == 64
    assert outcome.decision["risks"] and outcome.decision["explanations"]
    scored = [c for c in outcome.decision["candidates"] if c["score"] is not None]
    assert scored and all(c["concordant"] for c in scored)


def test_one_statin_card_at_the_highest_intensity_when_several_rules_agree() -> None:
    advice = _therapy("statin-therapy", dm(), htn(), lab("ldl", 120))
    statin_cards = [c for c in advice.cards if "statin" in c["summary"]]
    assert len(statin_cards) == 1
    assert "high-intensity" in statin_cards[0]["summary"]
    assert "chol18-4.3-diabetes" in advice.decision["not_shown_duplicates"]


def test_stage2_non_black_gets_one_first_line_card() -> None:
    advice = _therapy("hypertension-therapy", htn(), dm(), *bp3(145, 85))
    assert len([c for c in advice.cards if "first-line" in c["summary"]]) == 1


def test_heart_failure_without_egfr_asks_for_egfr_before_sglt2i() -> None:
    advice = _therapy("diabetes-therapy", dm(), hf(), on("metformin"))
    assert any(
        c["summary"].startswith("Check egfr") and "SGLT2" in c["summary"] for c in advice.cards
    )


def test_egfr_15_blocks_sglt2i_and_offers_glp1ra() -> None:
    advice = _therapy("diabetes-therapy", dm(), hf(), lab("egfr", 15), lab("hba1c", 8))
    offered = " | ".join(c["summary"] for c in advice.cards)
    assert "Start SGLT2" not in offered and "GLP-1" in offered
