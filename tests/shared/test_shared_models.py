"""Shared-data tier: the whole model path on the Synthea patients in ../shared/data.

FHIR bundles -> cohort (decision points through features_at) -> DP training (`train`) ->
evaluation with DP vs non-DP (`evaluate`, model card) -> registry and activation -> hook
calls whose cards are ranked by the model. Synthea has few diabetics with a
glucose-lowering start (about 30 decision points), so the t2d model is not trained here;
hypertension (about 220) and complications (about 580 index dates) are.
"""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from privacy import serving
from privacy.models import ModelActivation, ModelArtifact, PrivacyCharge
from tests.conftest import SHARED_DATA, patient_view_body
from tests.shared.test_shared_bundles_hooks import _prefetch_from_bundle

pytestmark = [pytest.mark.shared_data, pytest.mark.django_db, pytest.mark.slow]


def _hypertensive_bundles(limit: int) -> list[Path]:
    out = []
    for manifest in sorted(SHARED_DATA.glob("*/manifest.csv")):
        with manifest.open() as fh:
            for row in csv.DictReader(fh):
                if row.get("hypertension") == "1" and row.get("deceased") in (
                    "0",
                    "",
                    "False",
                    "false",
                ):
                    out.append(manifest.parent / "bundles" / row["file"])
    return out[:limit]


def test_the_whole_model_path_runs_on_synthea(
    api: Any, trusted_ehr: Any, make_token: Any, tmp_path: Path
) -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    source = f"fhir:{SHARED_DATA}"
    out = StringIO()
    call_command(
        "train",
        task="htn_drug",
        epsilon=3.0,
        source=source,
        epochs=30,
        batch_size=32,
        hidden=16,
        device="auto",
        activate=True,
        stdout=out,
    )
    summary = json.loads(out.getvalue())
    assert summary["accountant"] == "prv" and summary["epsilon"] <= 3.0 + 1e-6
    call_command(
        "train",
        task="complications",
        epsilon=3.0,
        source=source,
        epochs=30,
        batch_size=64,
        hidden=16,
        activate=True,
        stdout=StringIO(),
    )
    call_command(
        "evaluate",
        task="htn_drug",
        source=source,
        epsilons="1,3,8",
        epochs=30,
        batch_size=32,
        hidden=16,
        out_dir=str(tmp_path),
        stdout=StringIO(),
    )
    card = json.loads((tmp_path / "model-card-htn_drug.json").read_text())
    assert set(card["comparison"]) == {"non_dp", "dp_eps_1", "dp_eps_3", "dp_eps_8"}
    assert card["data"]["n_decision_points"] > 100
    assert card["metrics"]["top1_accuracy"]["n"] > 20
    assert (tmp_path / "model-card-htn_drug.md").read_text().startswith("# Model card: htn_drug")
    # ledger: 2 trains + 3 DP evaluations on the same dataset, composed
    assert (
        PrivacyCharge.objects.filter(budget__dataset=f"fhir:{SHARED_DATA.resolve()}").count() == 5
    )
    # evaluate's epsilon-3 model used train's options and seed: the same bytes, one artifact
    assert card["artifact_sha256"] == summary["artifact_sha256"]
    assert ModelArtifact.objects.count() == 4
    active = ModelActivation.objects.get(task="htn_drug").artifact_id
    assert active == summary["artifact_sha256"]

    serving.cache_clear()
    try:
        ranked = _hook_calls_ranked(api, make_token)
    finally:
        serving.cache_clear()  # the activation cache must not outlive this test's database
    assert ranked > 0, "no hypertension card was ranked by the active model"


def _hook_calls_ranked(api: Any, make_token: Any) -> int:
    ranked = 0
    route = "/cds-services/hypertension-therapy"
    for path in _hypertensive_bundles(15):
        patient_id, prefetch = _prefetch_from_bundle(path)
        body = patient_view_body(patient_id)
        body["prefetch"] = prefetch
        r = api.post(route, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(route)}")
        assert r.status_code == 200, r.content[:300]
        ranked += "Model ranking" in r.content.decode()
    return ranked
