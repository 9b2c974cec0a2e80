"""Hand-written patients for the guideline rule tests (shared by engine and service tests)."""

from __future__ import annotations

from datetime import date
from typing import Any

from cds.guidelines.engine import Context, context_build
from ehr_integration.fhir.derive import features_current
from ehr_integration.fhir.sources import record_from_resources
from tests import fhir_factory as f

TODAY = date(2021, 1, 1)
LAB_DAY = "2020-12-01"


def dm() -> dict[str, Any]:
    return f.condition("diabetes", "2015-01-01")


def htn() -> dict[str, Any]:
    return f.condition("hypertension", "2015-01-01")


def hf() -> dict[str, Any]:
    return f.condition("heart_failure", "2016-01-01")


def ascvd() -> dict[str, Any]:
    return f.condition("ascvd", "2016-01-01")


def pregnant() -> dict[str, Any]:
    return f.condition("pregnancy", "2020-10-01")


def was_pregnant() -> dict[str, Any]:
    return f.condition("pregnancy", "2019-01-01", abated="2019-09-01", status="resolved")


def lab(kind: str, value: float, when: str = LAB_DAY) -> dict[str, Any]:
    return f.observation(kind, value, when)


def bp3(sbp: float, dbp: float) -> list[dict[str, Any]]:
    return [f.bp(sbp, dbp, d) for d in ("2020-10-01", "2020-11-01", "2020-12-01")]


def on(drug: str) -> dict[str, Any]:
    return f.medication(drug, "2020-06-01")


def never_smoker() -> dict[str, Any]:
    return f.smoking("266919005", LAB_DAY)


def born(age_years: float) -> str:
    """Birth date giving `age_years` on TODAY (+1 day, as features_current sees it)."""
    days = round(age_years * 365.25)
    return date.fromordinal(TODAY.toordinal() + 1 - days).isoformat()


def ctx(
    *items: Any,
    sex: str = "female",
    age: float = 61,
    race: str = "2106-3",
    co: tuple[str, ...] = (),
    override: dict[str, Any] | None = None,
) -> Context:
    resources: list[dict[str, Any]] = []
    for item in items:
        resources.extend(item if isinstance(item, list) else [item])
    record = record_from_resources([f.patient(sex=sex, birth=born(age), race=race), *resources])
    context = context_build(features_current(record, today=TODAY), co_actions=co)
    if override:
        context = Context(env={**context.env, **override}, features=context.features,
                          co_actions=context.co_actions)  # fmt: skip
    return context
