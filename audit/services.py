"""Writes to the decision log. The hook flow calls these inside the decision's transaction."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def decision_record_append(*, event: dict[str, Any]) -> str:
    """Append one record for a hook call or feedback and return its id.

    Interim: the hash-chained store arrives with the audit issue; until then the event is
    only logged (by reason code, never with patient data).
    """
    logger.info(
        "decision kind=%s service=%s hookInstance=%s",
        event.get("kind"),
        event.get("service_id"),
        event.get("hook_instance"),
    )
    return ""
