"""Loaders for the committed CDS Hooks conformance fixtures (tests/fixtures/cds-hooks/).

The files are verbatim copies of ../shared/fixtures/cds-hooks (see COPIED.md) so the
default tier runs in a fresh clone; nothing here edits them, tests adapt around quirks.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cds-hooks"
SPEC = FIXTURES / "spec-2.0.1"
LIBRARY = FIXTURES / "hooks-library-1.0.1"
INFERNO = FIXTURES / "inferno-davinci-crd-test-kit"
SANDBOX = FIXTURES / "cds-hooks-sandbox"
REQUIREMENTS_CSV = INFERNO / "requirements" / "davinci_crd_test_kit_requirements.csv"


def fixture_load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def library_contexts(hook: str) -> list[tuple[str, dict[str, Any]]]:
    """(file name, context) for every Library 1.0.1 example of `hook`."""
    folder = LIBRARY / hook
    return [(p.name, fixture_load(p)["context"]) for p in sorted(folder.glob("0*.json"))]


def prefetch_for(templates: dict[str, str], patient_id: str) -> dict[str, Any]:
    """Prefetch answering every template of a service: the Patient for a read, else an
    empty searchset. Built from the templates so it follows whatever a service declares."""
    out: dict[str, Any] = {}
    for key, template in templates.items():
        if template.startswith("Patient/"):
            out[key] = {
                "resourceType": "Patient",
                "id": patient_id,
                "gender": "male",
                "birthDate": "1925-12-23",
            }
        else:
            out[key] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    return out


def hook_body(hook: str, context: dict[str, Any], templates: dict[str, str]) -> dict[str, Any]:
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": hook,
        "context": context,
        "prefetch": prefetch_for(templates, str(context.get("patientId", "p1"))),
    }
