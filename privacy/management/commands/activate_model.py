"""python manage.py activate_model --task t2d_drug --sha256 <hash>"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from privacy.ml.cohort import TASKS
from privacy.models import ModelArtifact
from privacy.services import ArtifactInvalid, model_activate


class Command(BaseCommand):
    help = "Make a registered artifact the one a task serves (processes pick it up within "
    help += "CDS_PRIVACY['ACTIVE_CACHE_SECONDS'])."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--task", required=True, choices=TASKS)
        parser.add_argument("--sha256", required=True)

    def handle(self, *args: Any, **o: Any) -> None:
        sha = o["sha256"].lower()
        matches = list(ModelArtifact.objects.filter(sha256__startswith=sha)[:2])
        if len(matches) != 1:
            raise CommandError(
                f"{'no' if not matches else 'more than one'} artifact matches {sha!r}"
            )
        try:
            model_activate(task=o["task"], sha256=matches[0].sha256, by="activate_model")
        except ArtifactInvalid as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{o['task']} -> {matches[0].sha256}")
