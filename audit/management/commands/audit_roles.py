"""Create the review roles (auditor, admin, integrator) and optionally grant one to a user,
or limit a user to a tenant's decisions (`--tenant`, see audit.roles)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.roles import ROLES, TENANT_GROUP_PREFIX, roles_ensure


class Command(BaseCommand):
    help = (
        "Create the audit review role groups; --user NAME --role ROLE grants a role; "
        "--user NAME --tenant T limits the user to tenant T's decisions (repeatable)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", default="", help="username to grant a role to")
        parser.add_argument("--role", choices=ROLES, help="role to grant")
        parser.add_argument(
            "--tenant",
            action="append",
            default=[],
            help="limit the user to this tenant's decisions (repeat for several)",
        )
        parser.add_argument(
            "--revoke", action="store_true", help="remove the role or tenant instead"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        created = roles_ensure()
        for name in created:
            self.stdout.write(f"created role {name}")
        username, role, tenants = options["user"], options["role"], options["tenant"]
        if bool(username) != bool(role or tenants):
            raise CommandError("--user goes with --role and/or --tenant")
        if not username:
            return
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        groups = [Group.objects.get(name=role)] if role else []
        for tenant in tenants:
            if not tenant.strip():
                raise CommandError("--tenant must not be empty")
            groups.append(Group.objects.get_or_create(name=TENANT_GROUP_PREFIX + tenant)[0])
        for group in groups:
            if options["revoke"]:
                user.groups.remove(group)
                self.stdout.write(f"revoked {group.name} from {username}")
            else:
                user.groups.add(group)
                self.stdout.write(f"granted {group.name} to {username}")
