"""Who may see what on the review pages: three roles, kept as Django groups.

- auditor: reads decisions (patient data by pseudonym), exports them, sees analytics;
- admin: the same (hospital admins answer for the log too);
- integrator: sets up EHR connections and watches override rates: analytics only, never a
  patient's data (no list, no detail, no export).
A superuser counts as admin. Groups are created by `manage.py audit_roles` (idempotent).
"""

from __future__ import annotations

from typing import Any

ROLE_AUDITOR = "auditor"
ROLE_ADMIN = "admin"
ROLE_INTEGRATOR = "integrator"
ROLES: tuple[str, ...] = (ROLE_AUDITOR, ROLE_ADMIN, ROLE_INTEGRATOR)
PATIENT_DATA_ROLES = frozenset({ROLE_AUDITOR, ROLE_ADMIN})


def user_roles(user: Any) -> frozenset[str]:
    """The review roles of a user (empty for anonymous or inactive users)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_audit_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser:
            names.add(ROLE_ADMIN)
        cached = frozenset(names)
        user._audit_roles = cached
    return cached


def can_view_patient_data(user: Any) -> bool:
    return bool(user_roles(user) & PATIENT_DATA_ROLES)


def can_view_analytics(user: Any) -> bool:
    return bool(user_roles(user))


def roles_ensure() -> list[str]:
    """Create the role groups that are missing; return the names created."""
    from django.contrib.auth.models import Group

    created = []
    for name in ROLES:
        _, was_created = Group.objects.get_or_create(name=name)
        if was_created:
            created.append(name)
    return created
