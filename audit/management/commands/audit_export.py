"""`manage.py audit_export [--output FILE]`: JSON lines + checkpoints + public key."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.export import export_lines


class Command(BaseCommand):
    help = "Export the decision log for an external auditor (see docs/audit.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        output = options.get("output")
        if not output:
            for line in export_lines():
                self.stdout.write(line)
            return
        tmp = f"{output}.part"
        with open(tmp, "w", encoding="utf-8") as handle:
            for line in export_lines():
                handle.write(line + "\n")
        os.replace(tmp, output)  # never leave half an export under the final name
        self.stdout.write(f"exported to {output}")
