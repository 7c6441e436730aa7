"""What the renderer adds to a producer's context, from the database (the one place that does so).

Producers queue ids (case_id, policy_no); a template may need more (the letter needs the policy and
its questionnaire). Everything loaded here is keyed by an id in the context or the recipient; a key
the producer set is never overwritten.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from core.settings import Settings
from domain.questionnaire import items_for, question_text
from models import Policy, RevisitCase
from notifications.recipients import Address, label

PRODUCT_TYPES_ZH = {"traditional": "传统型", "participating": "分红型", "universal": "万能型", "investment_linked": "投资连结型"}
PAYMENT_MODES_ZH = {"single": "趸交", "annual": "年交", "semiannual": "半年交", "quarterly": "季交", "monthly": "月交"}


class MissingData(ValueError):
    """A template needs a row that does not exist; retrying will not help."""


def enrich(
    session: Session, *, template: str, recipient: str, context: dict[str, Any], address: Address, settings: Settings
) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "signature": settings.sms_signature,
        "hotline": settings.service_hotline,
        "recipient_label": address.label or label(recipient),
    }
    if template == "revisit_letter":
        extra.update(_letter(session, context=context, settings=settings))
    return {**extra, **context}


def _letter(session: Session, *, context: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The policy, its questionnaire items (SPEC §2.5: only those that apply) and the return slip."""
    policy_no = context.get("policy_no")
    policy = session.exec(select(Policy).where(Policy.policy_no == policy_no)).first()
    if policy is None:
        raise MissingData(f"revisit_letter: no policy {policy_no}")
    case = session.get(RevisitCase, context["case_id"]) if context.get("case_id") is not None else None
    items = [
        {"key": item.key, "question": question_text(item, policy.product_type)}
        for item in items_for(policy.product_type, policy.payment_mode)
    ]
    return {
        "holder_name": policy.holder_name,
        "holder_address": policy.holder_address or "",
        "product_code": policy.product_code,
        "product_type_zh": PRODUCT_TYPES_ZH.get(policy.product_type, policy.product_type),
        "payment_mode_zh": PAYMENT_MODES_ZH.get(policy.payment_mode, policy.payment_mode),
        "issue_date": policy.issue_date.isoformat(),
        "cooling_off_end": case.cooling_off_end.isoformat() if case and case.cooling_off_end else None,
        "items": items,
        "return_address": settings.letter_return_address,
    }


__all__ = ["enrich", "MissingData"]
