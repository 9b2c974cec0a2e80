"""Card rules of CDS Hooks 2.0.1: the validator accepts the spec's and Inferno's valid cards,
refuses each way a card can break a rule, and the card builder can only emit cards the
validator accepts. Every response the running services give passes the same rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds.cards import (
    Action,
    Card,
    CardError,
    Coding,
    Link,
    Source,
    Suggestion,
    action_validate,
    card_validate,
    cards_response_validate,
)
from cds.catalog import services_all
from tests.conformance.fixtures import (
    INFERNO,
    SANDBOX,
    SPEC,
    fixture_load,
    hook_body,
    library_contexts,
)

GOOD: dict[str, Any] = {
    "uuid": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
    "summary": "Consider metformin",
    "indicator": "info",
    "detail": "**Markdown** detail",
    "source": {
        "label": "ADA Standards of Care",
        "url": "https://example.org/ada",
        "icon": "https://example.org/icon.png",
        "topic": {"code": "t", "system": "https://example.org/topics"},
    },
    "suggestions": [
        {
            "label": "Start metformin",
            "uuid": "e56e1945-20b3-4393-8503-a1a20fd73152",
            "isRecommended": True,
            "actions": [
                {
                    "type": "create",
                    "description": "Draft a MedicationRequest",
                    "resource": {"resourceType": "MedicationRequest", "status": "draft"},
                },
                {
                    "type": "delete",
                    "description": "Remove the other order",
                    "resourceId": "MedicationRequest/2",
                },
            ],
        }
    ],
    "selectionBehavior": "at-most-one",
    "overrideReasons": [{"code": "r", "system": "https://example.org/r", "display": "Refused"}],
    "links": [
        {"label": "Guideline", "url": "https://example.org/g", "type": "absolute"},
        {
            "label": "App",
            "url": "https://app.example.org/launch",
            "type": "smart",
            "appContext": "x",
        },
    ],
}


def _set(path: str, value: Any) -> dict[str, Any]:
    """GOOD with one field changed (`value` DELETE removes it); path like a.b[0].c."""
    card = copy.deepcopy(GOOD)
    target: Any = card
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return card


DELETE = object()

# (requirement IDs, field path, bad value): each must be refused.
BREAKS: list[tuple[tuple[int, ...], str, Any]] = [
    ((80,), "uuid", 123),
    ((83,), "summary", "x" * 140),
    ((83,), "summary", DELETE),
    ((83,), "summary", ""),
    ((85,), "detail", 5),
    ((87,), "indicator", DELETE),
    ((88,), "indicator", "hard-stop"),
    ((90,), "source", DELETE),
    ((105,), "source.label", DELETE),
    ((105,), "source.label", 7),
    ((107,), "source.url", "/relative/path"),
    ((111,), "source.icon", "icon.png"),
    ((115, 216, 217), "source.topic", {"code": "t"}),
    ((115,), "source.topic", "a string"),
    ((92,), "suggestions", {"label": "not an array"}),
    ((3,), "suggestions", []),
    ((93, 96), "selectionBehavior", DELETE),
    ((95,), "selectionBehavior", "all"),
    ((117,), "suggestions[0].label", DELETE),
    ((119,), "suggestions[0].uuid", 42),
    ((121,), "suggestions[0].isRecommended", "yes"),
    ((124,), "suggestions[0].actions", "create"),
    ((127,), "suggestions[0].actions[0].type", "upsert"),
    ((128,), "suggestions[0].actions[0].description", DELETE),
    ((130, 131), "suggestions[0].actions[0].resource", DELETE),
    ((130,), "suggestions[0].actions[0].resource", {"id": "no-resource-type"}),
    ((133,), "suggestions[0].actions[1].resource", "MedicationRequest/2"),
    ((134, 135), "suggestions[0].actions[1].resourceId", DELETE),
    ((135,), "suggestions[0].actions[1].resourceId", 2),
    ((98,), "overrideReasons", {"code": "r"}),
    ((100, 136, 219), "overrideReasons[0].display", DELETE),
    ((216, 218), "overrideReasons[0].code", DELETE),
    ((217,), "overrideReasons[0].system", DELETE),
    ((103,), "links", {"label": "x"}),
    ((138,), "links[0].label", DELETE),
    ((139,), "links[0].url", "www.example.org"),
    ((141,), "links[0].type", DELETE),
    ((142,), "links[0].type", "relative"),
    ((147, 146), "links[0].appContext", "ctx"),
    ((144,), "links[1].appContext", {"a": 1}),
    ((3,), "detail", None),
    ((3,), "source.url", None),
]


def test_the_reference_good_card_is_valid() -> None:
    card_validate(GOOD)


@pytest.mark.req(3, 80, 83, 85, 87, 88, 90, 92, 93, 95, 96, 98, 100, 103, 105, 107, 111, 115)
@pytest.mark.req(117, 119, 121, 124, 127, 128, 130, 131, 133, 134, 135, 136, 138, 139, 141)
@pytest.mark.req(142, 144, 146, 147, 216, 217, 218, 219)
@pytest.mark.parametrize(("reqs", "path", "value"), BREAKS, ids=[f"{b[1]}" for b in BREAKS])
def test_each_broken_card_rule_is_refused(reqs: tuple[int, ...], path: str, value: Any) -> None:
    with pytest.raises(CardError):
        card_validate(_set(path, value))


@pytest.mark.req(81, 84, 94, 99, 104, 106, 108, 113, 116, 118, 120, 122, 123, 145, 220, 140)
def test_every_optional_field_may_be_left_out() -> None:
    minimal = {"summary": "s", "indicator": "info", "source": {"label": "l"}}
    card_validate(minimal)
    card_validate(_set("suggestions[0].actions", DELETE))
    card_validate(_set("source.topic.display", "Display is optional on a topic"))
    card_validate(_set("links[0].url", "https://example.org/g?patient=1#deep"))
    any_of = _set("selectionBehavior", "any")
    any_of["suggestions"].append({**any_of["suggestions"][0], "uuid": "second"})
    card_validate(any_of)


def _spec_cards() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name in ("19-response-cards.json", "12-response-no-guidance.json"):
        out += [(f"{name}#{i}", c) for i, c in enumerate(fixture_load(SPEC / name)["cards"])]
    out += [
        (f"valid_cards.json#{i}", c)
        for i, c in enumerate(fixture_load(INFERNO / "valid_cards.json"))
    ]
    cards = fixture_load(SANDBOX / "observed" / "mock-service-cards-served.json")["cards"]
    out += [(f"mock-service-cards-served.json#{i}", c) for i, c in enumerate(cards)]
    return out


@pytest.mark.parametrize(("name", "card"), _spec_cards(), ids=[n for n, _ in _spec_cards()])
def test_the_published_valid_cards_are_accepted(name: str, card: dict[str, Any]) -> None:
    card_validate(card)


def test_the_spec_fragments_are_accepted_in_a_card() -> None:
    base = {"summary": "s", "indicator": "info"}
    card_validate({**base, **fixture_load(SPEC / "13-card-source.json")})
    card_validate(
        {**base, "source": {"label": "l"}, **fixture_load(SPEC / "17-card-overrideReasons.json")}
    )
    action_validate(fixture_load(SPEC / "16-action-delete.json"), "action")
    # `*-snipped` actions keep a "..." placeholder inside the resource; the shape is valid.
    action_validate(fixture_load(SPEC / "14-action-create-snipped.json"), "action")
    action_validate(fixture_load(SPEC / "15-action-update-snipped.json"), "action")
    cards_response_validate(fixture_load(SPEC / "12-response-no-guidance.json"))
    cards_response_validate(fixture_load(INFERNO / "crd_authorization_hook_response.json"))


def test_the_spec_examples_that_break_the_spec_are_refused_for_the_documented_reason() -> None:
    # Documented quirk: the systemActions example has an action with no description.
    with pytest.raises(CardError, match=r"systemActions\[0\]\.description"):
        cards_response_validate(fixture_load(SPEC / "18-response-systemActions-snipped.json"))
    # Quirk: the autolaunchable example card leaves out the REQUIRED indicator.
    with pytest.raises(CardError, match=r"cards\[0\]\.indicator"):
        cards_response_validate(fixture_load(SPEC / "20-response-cards-autolaunchable.json"))
    fixed = fixture_load(SPEC / "20-response-cards-autolaunchable.json")
    fixed["cards"][0]["indicator"] = "info"
    cards_response_validate(fixed)


# --- the builder can only emit valid cards -------------------------------------------------

_text = st.text(min_size=0, max_size=160)
_url = st.sampled_from(["https://example.org/x", "http://a.b/c", "/relative", "ftp://x/y", "", "x"])
_coding = st.builds(Coding, code=_text, system=_text, display=_text)
_action = st.builds(
    Action,
    type=st.sampled_from(["create", "update", "delete", "upsert"]),
    description=_text,
    resource=st.one_of(st.none(), st.just({"resourceType": "MedicationRequest"}), st.just({})),
    resource_id=st.sampled_from(["", "MedicationRequest/1", "1"]),
)
_card = st.builds(
    Card,
    summary=_text,
    indicator=st.sampled_from(["info", "warning", "critical", "severe"]),
    source=st.builds(Source, label=_text, url=_url, icon=_url, topic=st.one_of(st.none(), _coding)),
    detail=_text,
    suggestions=st.lists(
        st.builds(
            Suggestion,
            label=_text,
            actions=st.lists(_action, max_size=2).map(tuple),
            is_recommended=st.one_of(st.none(), st.booleans()),
        ),
        max_size=2,
    ).map(tuple),
    selection_behavior=st.sampled_from([None, "at-most-one", "any", "all"]),
    override_reasons=st.lists(_coding, max_size=2).map(tuple),
    links=st.lists(
        st.builds(
            Link,
            label=_text,
            url=_url,
            type=st.sampled_from(["absolute", "smart", "relative"]),
            app_context=st.sampled_from(["", "ctx"]),
        ),
        max_size=2,
    ).map(tuple),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(card=_card)
def test_the_card_builder_emits_only_valid_cards_or_raises(card: Card) -> None:
    try:
        out = card.to_json()
    except CardError:
        return
    card_validate(out)
    assert len(out["summary"]) < 140


@pytest.mark.django_db
@pytest.mark.req(74, 75, 77, 3, 1)
def test_every_response_every_service_gives_passes_the_card_rules(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    from tests.conftest import patient_view_body

    contexts = {
        hook: [c for _, c in library_contexts(hook)] for hook in ("order-select", "order-sign")
    }
    for service in services_all():
        if service.hook == "patient-view":
            bodies = [
                hook_body(
                    "patient-view",
                    {"userId": "Practitioner/1", "patientId": "p1"},
                    service.prefetch,
                )
            ]
            bodies.append(
                {
                    **patient_view_body("p2"),
                    "prefetch": {
                        **patient_view_body("p2")["prefetch"],
                        **hook_body("patient-view", {}, service.prefetch)["prefetch"],
                    },
                }
            )
        else:
            bodies = [hook_body(service.hook, c, service.prefetch) for c in contexts[service.hook]]
        for body in bodies:
            path = f"/cds-services/{service.id}"
            response = api.post(
                path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(path)}"
            )
            assert response.status_code == 200, (service.id, response.content[:300])
            cards_response_validate(response.json())
