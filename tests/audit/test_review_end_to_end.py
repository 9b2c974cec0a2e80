"""The whole chain: a real hook call with the shipped demo model -> its audit record ->
the review page shows the cards, the SHAP waterfall and the factors in clinical words."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from cds.cards import cards_response_validate
from privacy import serving
from privacy.services import demo_artifacts_activate
from tests import fhir_factory as f
from tests.audit.review_seed import review_user
from tests.cds.guideline_patients import bp3, htn
from tests.conftest import patient_view_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_serving_cache() -> Any:
    serving.cache_clear()
    yield
    serving.cache_clear()


def test_a_model_ranked_hook_call_is_reviewable_with_its_explanation(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    assert demo_artifacts_activate(), "the shipped demo artifacts must activate"
    body = patient_view_body("p-e2e")
    body["prefetch"] = f.prefetch(
        f.patient(birth="1958-03-01"),
        htn(),
        *bp3(152, 88),
        f.observation("egfr", 52, str(date.today())),
    )
    route = "/cds-services/hypertension-therapy"
    response = api.post(
        route, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(route)}"
    )
    assert response.status_code == 200, response.content
    cards_response_validate(response.json())
    ranked = [c for c in response.json()["cards"] if "Model ranking" in c.get("detail", "")]
    assert ranked, "the demo model ranks the first-line antihypertensive options"
    detail = ranked[0]["detail"]
    assert "main factors:" in detail  # explain_words in the card the clinician sees
    assert re.search(r"- .+: (favours|argues against) ", detail)

    review_user("alice", "auditor")
    client = Client()
    client.force_login(get_user_model().objects.get(username="alice"))
    listing = client.get("/audit/decisions/", {"service": "hypertension-therapy"}).content.decode()
    (seq,) = re.findall(r'href="/audit/decisions/(\d+)/"', listing)
    html = client.get(f"/audit/decisions/{seq}/").content.decode()
    assert "shap-waterfall-0" in html and "class='bar'" in html
    assert "htn_drug:" in html  # the explained target as serving named it
    assert "main factors:" in html  # the card as shown, with its words
    assert 'id="hash-ok"' in html
    assert "p-e2e" not in html

    # The clinician overrides the card; the analytics count it against the deciding rule
    # as cds.guidelines names it in the trace ("result": "true").
    feedback_route = f"{route}/feedback"
    answer = api.post(
        feedback_route,
        {
            "feedback": [
                {
                    "card": ranked[0]["uuid"],
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-12-02T06:00:00Z",
                }
            ]
        },
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {make_token(feedback_route)}",
    )
    assert answer.status_code == 200, answer.content
    analytics = client.get("/audit/analytics/").content.decode()
    rules = analytics.split('id="table-rule"')[1].split("</table>")[0]
    assert "acc17-8.1.6.1-two-drugs" in rules
    assert "100%" in rules
