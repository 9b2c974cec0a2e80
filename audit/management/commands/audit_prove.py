"""`manage.py audit_prove --seq N [--size M]`: RFC 6962 inclusion proof of one record.

With `--old-size A --size B` it prints a consistency proof between two checkpoints instead.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.proofs import consistency_proof_build, inclusion_proof_build
from config.errors import NotFound


class Command(BaseCommand):
    help = "Print an inclusion (or consistency) proof against a signed checkpoint, as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seq", type=int, help="record to prove")
        parser.add_argument("--size", type=int, help="checkpoint tree size")
        parser.add_argument("--old-size", type=int, help="older checkpoint (consistency)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options.get("old_size") is not None:
                if options.get("size") is None:
                    raise CommandError("--old-size needs --size")
                proof = consistency_proof_build(
                    old_size=options["old_size"], new_size=options["size"]
                )
            elif options.get("seq") is not None:
                proof = inclusion_proof_build(seq=options["seq"], tree_size=options.get("size"))
            else:
                raise CommandError("give --seq N (inclusion) or --old-size A --size B")
        except NotFound as exc:
            raise CommandError(exc.message, returncode=2) from exc
        self.stdout.write(json.dumps(proof, indent=2, sort_keys=True))
        if not proof["verified"]:
            raise CommandError("the proof does not verify against the signed root", returncode=1)
