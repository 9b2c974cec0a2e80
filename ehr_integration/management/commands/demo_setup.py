"""Register the demo EHR and print a ready-to-run curl for a first hook call."""

from __future__ import annotations

import json
import shlex
import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ehr_integration.demo import DEMO_ISSUER, demo_prefetch, demo_public_jwks, demo_token
from ehr_integration.services import ehr_client_register


class Command(BaseCommand):
    help = "Register the demo EHR client (local key pair) and print an example curl."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--service", default="diabetes-therapy")

    def handle(self, *args: Any, **options: Any) -> None:
        ehr_client_register(issuer=DEMO_ISSUER, jwks=demo_public_jwks(), name="Demo EHR")
        # Model-ranked cards out of the box: activate the shipped demo models (trained with
        # DP on generated data) for tasks that have none yet; an operator's choice is kept.
        from privacy.services import demo_artifacts_activate

        for task, sha in demo_artifacts_activate():
            self.stdout.write(f"Activated demo model {task}: {sha[:12]}\n")
        base = settings.CDS_HOOKS["PUBLIC_BASE_URL"]
        url = f"{base}/cds-services/{options['service']}"
        body = {
            "hookInstance": str(uuid.uuid4()),
            "hook": "patient-view",
            "context": {"userId": "Practitioner/demo-clinician", "patientId": "demo-1"},
            "prefetch": demo_prefetch(today=date.today()),
        }
        token = demo_token(audience=url)
        self.stdout.write("Demo EHR registered. Discovery:\n")
        self.stdout.write(f"  curl -s {base}/cds-services\n")
        self.stdout.write(
            "A signed hook call (the token is single-use and valid 5 minutes: a replay is "
            "refused with 401; rerun `python manage.py demo_setup` for a new one):\n"
        )
        self.stdout.write(
            f"  curl -s -X POST {url} -H 'Content-Type: application/json' "
            f"-H 'Authorization: Bearer {token}' -d {shlex.quote(json.dumps(body))}\n"
        )
