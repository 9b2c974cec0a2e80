"""`python manage.py register_ehr_client --issuer ISS (--jwks-file F | --jku URL)`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApiError
from ehr_integration.services import ehr_client_register


class Command(BaseCommand):
    help = "Register (or update) an EHR that may call the CDS services."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--issuer", required=True, help="JWT iss of the EHR")
        keys = parser.add_mutually_exclusive_group(required=True)
        keys.add_argument("--jwks-file", type=Path, help="pinned public JWK Set (JSON file)")
        keys.add_argument("--jku", action="append", help="allowlisted JWKS URL (repeatable)")
        parser.add_argument("--tenant", default="")
        parser.add_argument("--fhir-base", default="")
        parser.add_argument("--name", default="")
        parser.add_argument("--algorithms", default="ES384,RS384")
        parser.add_argument("--services", default="", help="comma-separated ids; empty = all")

    def handle(self, *args: Any, **options: Any) -> None:
        jwks = None
        if options["jwks_file"]:
            try:
                jwks = json.loads(Path(options["jwks_file"]).read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read JWKS file: {exc}") from exc
        try:
            client = ehr_client_register(
                issuer=options["issuer"],
                jwks=jwks,
                jku_allowlist=options["jku"] or [],
                tenant=options["tenant"],
                fhir_base_url=options["fhir_base"],
                name=options["name"],
                allowed_algorithms=[a for a in options["algorithms"].split(",") if a],
                enabled_services=[s for s in options["services"].split(",") if s],
            )
        except ApiError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(f"registered EHR client {client.id} issuer={client.issuer}")
