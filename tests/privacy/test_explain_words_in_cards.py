"""The card detail carries the top SHAP factors in clinical words (b's hook, e's words)."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from cds.advice import therapy_advice
from cds.cards import card_validate
from cds.clinical import ranking_explanation_text
from cds.guidelines.engine import ruleset_default
from ehr_integration.fhir.contract import FEATURE_NAMES
from ehr_integration.fhir.derive import features_current
from ehr_integration.fhir.sources import record_from_resources
from privacy.ml.explain_core import DeepLiftShap
from privacy.serving import Explanation, RankingResult, ScoredCandidate
from tests import fhir_factory as f
from tests.cds.guideline_patients import TODAY, born, bp3, htn, lab


def test_card_detail_names_the_top_factors_with_the_patients_values() -> None:
    record = record_from_resources(
        [f.patient(birth=born(67), sex="female"), htn(), *bp3(152, 88), lab("egfr", 38)]
    )
    features = features_current(record, today=TODAY)
    snapshot = features.as_dict()
    # A real (untrained, seeded) MLP over the whole contract, explained by explain_core:
    # what privacy.serving hands the card builder.
    names = list(FEATURE_NAMES)
    x = np.array([snapshot.get(n) if snapshot.get(n) is not None else 0.0 for n in names])
    model = nn.Sequential(nn.Linear(len(names), 16), nn.ReLU(), nn.Linear(16, 2)).eval()
    background = np.zeros((4, len(names))) + np.linspace(0, 1, 4)[:, None]
    attribution = DeepLiftShap.from_torch(model, background=background).explain(x)
    explanations = tuple(
        Explanation(d["target"], d["base_value"], d["values"], d["output"])
        for d in attribution.as_dicts(feature_names=names, targets=["acei", "thiazide"])
    )

    def ranker(*, task: str, features: Any, candidates: Any) -> RankingResult:
        return RankingResult(
            task=task,
            artifact_sha256="cd" * 32,
            ranked=(ScoredCandidate("acei", 0.8), ScoredCandidate("thiazide", 0.5)),
            explanations=explanations,
        )

    advice = therapy_advice(
        service="hypertension-therapy",
        record=record,
        features=features,
        ruleset=ruleset_default(),
        ranker=ranker,
        explainer=ranking_explanation_text,
    )
    card = next(c for c in advice.cards if "Model ranking" in c.get("detail", ""))
    card_validate(card)
    detail = card["detail"]
    assert "**Why an ACE inhibitor**, main factors:" in detail
    top_acei = sorted(explanations[0].values.items(), key=lambda kv: -abs(kv[1]))[0]
    name, value = top_acei
    from privacy.ml.explain_words import factor_words

    sentence = factor_words(
        name=name, value=snapshot.get(name), contribution=value, target="acei", features=snapshot
    )
    assert f"- {sentence}" in detail
    assert advice.decision["explanations"][0]["values"] == explanations[0].values


def test_every_option_ranked_on_any_card_is_explained_once_in_the_decision(db: Any) -> None:
    """Hypertension for the demo patient ranks options on two cards (CKD: ACEi/ARB; stage 2:
    a two-drug combination); the logged decision explains every ranked option and every
    risk, each target once, with the real shipped demo models."""
    from datetime import date
    from pathlib import Path

    from cds.advice import therapy_advice
    from cds.clinical import ranking_explanation_text, ranking_safe
    from cds.guidelines.engine import ruleset_default
    from ehr_integration.demo import demo_prefetch
    from ehr_integration.fhir.derive import features_current
    from ehr_integration.fhir.sources import record_from_prefetch
    from privacy import serving
    from privacy.services import demo_artifacts_activate

    demo_artifacts_activate(directory=Path(__file__).resolve().parents[2] / "privacy" / "artifacts")
    serving.cache_clear()
    today = date.today()
    record = record_from_prefetch(demo_prefetch(today=today))
    advice = therapy_advice(
        service="hypertension-therapy",
        record=record,
        features=features_current(record, today=today),
        ruleset=ruleset_default(),
        ranker=ranking_safe,
        explainer=ranking_explanation_text,
    )
    ranked_cards = [c for c in advice.cards if "Model ranking" in c.get("detail", "")]
    assert len(ranked_cards) >= 2
    targets = [e["target"] for e in advice.decision["explanations"]]
    assert len(targets) == len(set(targets))
    scored = {
        f"htn_drug:{c['action']}" for c in advice.decision["candidates"] if c["score"] is not None
    }
    assert len(scored) >= 3  # options from both ranked cards
    assert scored <= set(targets)
    assert {f"risk:{r}" for r in advice.decision["risks"]} <= set(targets)
