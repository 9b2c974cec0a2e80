"""Create the review roles (auditor, admin, integrator) and optionally grant one to a user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.roles import ROLES, roles_ensure


class Command(BaseCommand):
    help = "Create the audit review role groups; --user NAME --role ROLE grants a role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", default="", help="username to grant a role to")
        parser.add_argument("--role", choices=ROLES, help="role to grant")
        parser.add_argument("--revoke", action="store_true", help="remove the role instead")

    def handle(self, *args: Any, **options: Any) -> None:
        created = roles_ensure()
        for name in created:
            self.stdout.write(f"created role {name}")
        username, role = options["user"], options["role"]
        if bool(username) != bool(role):
            raise CommandError("--user and --role go together")
        if not username:
            return
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        group = Group.objects.get(name=role)
        if options["revoke"]:
            user.groups.remove(group)
            self.stdout.write(f"revoked {role} from {username}")
        else:
            user.groups.add(group)
            self.stdout.write(f"granted {role} to {username}")
