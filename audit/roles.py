"""Who may see what on the review pages: three roles, kept as Django groups.

- auditor: reads decisions (patient data by pseudonym), exports them, sees analytics;
- admin: the same (hospital admins answer for the log too);
- integrator: sets up EHR connections and watches override rates: analytics only, never a
  patient's data (no list, no detail, no export).
A superuser counts as admin. Groups are created by `manage.py audit_roles` (idempotent).

Tenants: a hospital sharing one deployment with others scopes its reviewers with groups named
`tenant:<tenant>` (`audit_roles --user U --tenant T`). A reviewer in one or more tenant groups
sees only those tenants' decisions and feedback, everywhere (list, detail, exports,
analytics); a reviewer in none, and a superuser, sees every tenant (one hospital per
deployment needs no setup).
"""

from __future__ import annotations

from typing import Any

ROLE_AUDITOR = "auditor"
ROLE_ADMIN = "admin"
ROLE_INTEGRATOR = "integrator"
ROLES: tuple[str, ...] = (ROLE_AUDITOR, ROLE_ADMIN, ROLE_INTEGRATOR)
PATIENT_DATA_ROLES = frozenset({ROLE_AUDITOR, ROLE_ADMIN})
TENANT_GROUP_PREFIX = "tenant:"


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


def user_tenants(user: Any) -> frozenset[str] | None:
    """The tenants a reviewer is limited to, or None when not limited (see module doc)."""
    if getattr(user, "is_superuser", False):
        return None
    cached = getattr(user, "_audit_tenants", False)
    if cached is False:
        names = user.groups.filter(name__startswith=TENANT_GROUP_PREFIX).values_list(
            "name", flat=True
        )
        tenants = frozenset(n[len(TENANT_GROUP_PREFIX) :] for n in names)
        cached = tenants or None
        user._audit_tenants = cached
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
