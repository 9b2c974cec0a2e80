"""Browser tests keep the audit keys in a temporary folder, as the audit tests do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _audit_keys(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    key_dir = tmp_path_factory.getbasetemp() / "audit-keys"
    settings.CDS_AUDIT = {
        **settings.CDS_AUDIT,
        "KEY_DIR": key_dir,
        "PSEUDONYM_KEY": "",
        "SIGNING_KEY_FILE": "",
    }
    return key_dir


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
