"""The complaint as clients read it (SPEC §4.1): intake fields, owner, clocks, allowed events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.views import iso, mask_phone
from core.clock import as_utc
from models import Complaint, User
from statemachines.engine import allowed_events
from statemachines.registry import get_kind

FULL_VIEW_ROLES = ("admin", "supervisor", "manager", "complaint_handler")


def complaint_allowed_events(c: Complaint) -> list[str]:
    """The machine's events from the complaint's state, less the ones only the sweep sends."""
    timed = get_kind("complaint").machine.timed_events
    return [e for e in allowed_events("complaint", c) if e not in timed]


def complaint_view(c: Complaint, *, user: User | None = None, now: datetime | None = None) -> dict[str, Any]:
    phone = c.complainant_phone
    if user is not None and user.role not in FULL_VIEW_ROLES:
        phone = mask_phone(phone)
    return {
        "id": c.id,
        "source": c.source,
        "channel": c.channel,
        "complainant": {"name": c.complainant_name, "phone": phone},
        "policy_no": c.policy_no,
        "content": c.content,
        "category": c.category,
        "urgency": c.urgency,
        "state": c.state,
        "owner": c.owner,
        "pending_owner": c.pending_owner,
        "accused": c.accused,
        "revisit_case_id": c.revisit_case_id,
        "agent_code": c.agent_code,
        "claim_no": c.claim_no,
        "received_at": iso(c.received_at),
        "ack_due_at": iso(c.ack_due_at),
        "acknowledged_at": iso(c.acknowledged_at),
        "feedback_due_at": iso(c.feedback_due_at),
        "feedback_given_at": iso(c.feedback_given_at),
        "reply_due_at": iso(c.reply_due_at),
        "responded_at": iso(c.responded_at),
        "next_due_at": iso(c.next_due_at),
        "overdue": bool(now is not None and c.next_due_at is not None and as_utc(c.next_due_at) <= now),
        "extension_count": c.extension_count,
        "reopen_count": c.reopen_count,
        "escalated_to": c.escalated_to,
        "root_cause": c.root_cause,
        "satisfaction": c.satisfaction,
        "details": c.details,
        "closed_at": iso(c.closed_at),
        "version": c.version,
        "allowed_events": complaint_allowed_events(c),
    }
