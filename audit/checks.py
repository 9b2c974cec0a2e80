"""System checks for the decision log's keys (run at every start, like config.checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from audit.keys import PSEUDONYM_FILE, SIGNING_FILE


@register(Tags.security)
def audit_keys_check(app_configs: Any, **kwargs: Any) -> list[Any]:
    conf = dict(getattr(settings, "CDS_AUDIT", {}) or {})
    problems: list[Any] = []
    key = str(conf.get("PSEUDONYM_KEY") or "")
    if key:
        try:
            if len(bytes.fromhex(key)) < 32:
                raise ValueError
        except ValueError:
            problems.append(
                Error("CDS_AUDIT_PSEUDONYM_KEY must be at least 32 bytes, hex.", id="audit.E001")
            )
    signing = str(conf.get("SIGNING_KEY_FILE") or "")
    if signing and not Path(signing).is_file():
        problems.append(
            Error(f"CDS_AUDIT_SIGNING_KEY_FILE {signing} does not exist.", id="audit.E002")
        )
    if settings.IS_PRODUCTION:
        key_dir = Path(str(conf.get("KEY_DIR") or ""))
        if not key and not (key_dir / PSEUDONYM_FILE).is_file():
            problems.append(
                Warning(
                    "No audit pseudonym key is provisioned; one will be generated under "
                    f"{key_dir}. Back it up apart from the database.",
                    id="audit.W001",
                )
            )
        if not signing and not (key_dir / SIGNING_FILE).is_file():
            problems.append(
                Warning(
                    "No audit signing key is provisioned; one will be generated under "
                    f"{key_dir}. Publish its key id for auditors.",
                    id="audit.W002",
                )
            )
    return problems
