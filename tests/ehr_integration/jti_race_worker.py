"""A separate process for the jti race test: `prepare` migrates a database and registers
the EHR; `race` waits for a go-file, then verifies the shared token once and prints
`won` or `refused:<reason>`. Real processes, real database, no shared Python memory."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _setup(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def main(argv: list[str]) -> int:
    mode, db_url = argv[0], argv[1]
    _setup(db_url)
    if mode == "prepare":
        from django.core.management import call_command

        from ehr_integration.services import ehr_client_register

        call_command("migrate", verbosity=0, interactive=False)
        ehr_client_register(issuer="https://ehr.example.org", jwks=json.loads(argv[2]))
        return 0
    go_file, token, audience = Path(argv[2]), argv[3], argv[4]
    from ehr_integration.jwt_verify import JwtRejected, jwt_verify

    deadline = time.monotonic() + 60
    while not go_file.exists():
        if time.monotonic() > deadline:
            print("timeout")
            return 1
        time.sleep(0.001)
    try:
        jwt_verify(token=token, audience=audience)
    except JwtRejected as exc:
        print(f"refused:{exc.reason}")
        return 0
    print("won")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
