"""`manage.py audit_checkpoint`: sign a checkpoint at the current size of the log now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audit.services import checkpoint_create


class Command(BaseCommand):
    help = "Sign a checkpoint (tree size, RFC 6962 root, chain head, time) of the decision log."

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint = checkpoint_create()
        if checkpoint is None:
            self.stdout.write("nothing to sign: the log is empty or already signed at its size")
            return
        self.stdout.write(
            f"signed checkpoint: size {checkpoint.tree_size} root {checkpoint.root} "
            f"key {checkpoint.key_id}"
        )
