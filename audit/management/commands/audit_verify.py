"""`manage.py audit_verify`: walk the whole log; name the first bad record; exit 1 if any."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.verification import audit_log_verify


class Command(BaseCommand):
    help = "Verify the decision log's hash chain, columns and signed checkpoints."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        report = audit_log_verify()
        seconds = time.perf_counter() - started
        if not report.ok:
            raise CommandError(f"audit log FAILED at {report.problem}", returncode=1)
        self.stdout.write(
            f"OK: {report.records} records, {report.checkpoints_checked} signed checkpoints "
            f"matched, head {report.last_hash} ({seconds:.2f} s)"
        )
