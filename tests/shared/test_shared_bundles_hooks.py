"""Shared-data tier: every Synthea patient in ../shared/data answers every patient-view
service with 200 and spec-valid cards when its bundle is sent as prefetch."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from cds.cards import cards_response_validate
from cds.catalog import services_all
from ehr_integration.fhir.sources import prefetch_from_bundle
from tests.conftest import SHARED_DATA, patient_view_body

pytestmark = [pytest.mark.shared_data, pytest.mark.django_db]

BUNDLES = sorted(SHARED_DATA.glob("*/bundles/*.json.gz")) if SHARED_DATA.is_dir() else []


def _prefetch_from_bundle(path: Path) -> tuple[str, dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        bundle = json.load(fh)
    return prefetch_from_bundle(bundle)


def test_shared_data_is_present() -> None:
    assert len(BUNDLES) > 100, f"expected the Synthea bundles under {SHARED_DATA}"


@pytest.mark.parametrize("path", BUNDLES[::25], ids=lambda p: p.name[:40])
def test_each_sampled_patient_gets_valid_cards_from_every_patient_view_service(
    path: Path, api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    patient_id, prefetch = _prefetch_from_bundle(path)
    for service in services_all():
        if service.hook != "patient-view":
            continue
        route = f"/cds-services/{service.id}"
        body = patient_view_body(patient_id)
        body["prefetch"] = prefetch
        response = api.post(
            route, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(route)}"
        )
        assert response.status_code == 200, (service.id, response.content[:300])
        cards_response_validate(response.json())
