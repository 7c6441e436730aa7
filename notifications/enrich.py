"""What the renderer adds to a producer's context, from the database (the one place that does so).

Producers queue ids (case_id, policy_no); a template may need more (the letter needs the policy and
its questionnaire). ``revisit_letter`` is chosen by the case's kind: a new-contract revisit gets the
new-contract questionnaire of its policy (SPEC §2.5); a claim revisit (``kind == "claim"``) gets the claim
satisfaction questionnaire (domain.claim_classification, SPEC §2.11) — ``letter_kind`` tells the template. Everything loaded here is keyed by an id in the context or the recipient; a key
the producer set is never overwritten.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from core.settings import Settings
from domain import claim_classification as claim_q
from domain.questionnaire import items_for, question_text
from models import Claim, Policy, RevisitCase
from notifications.recipients import Address, label

PRODUCT_TYPES_ZH = {"traditional": "传统型", "participating": "分红型", "universal": "万能型", "investment_linked": "投资连结型"}
CLAIM_TYPES_ZH = {"medical": "医疗", "critical_illness": "重大疾病", "death": "身故", "disability": "伤残"}
# how the claimant ticks each claim questionnaire item on paper (the answers the call records)
CLAIM_OPTIONS_ZH: dict[str, list[str]] = {
    claim_q.IDENTITY: ["是", "否"],
    claim_q.SERVICE_SATISFACTION: [str(n) for n in claim_q.SATISFACTION_SCALE],
    claim_q.LIABILITY_CLEAR: ["是", "否"],
    claim_q.STAFF_ATTITUDE: ["好", "一般", "差"],
}
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
    if case is not None and case.kind == "claim":
        return _claim_letter(session, policy=policy, case=case, settings=settings)
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
        "letter_kind": "new_contract",
    }


def _claim_letter(session: Session, *, policy: Policy, case: RevisitCase, settings: Settings) -> dict[str, Any]:
    """A claim revisit by letter: the claim, and the claim satisfaction questionnaire (理赔回访问卷)."""
    claim = session.exec(select(Claim).where(Claim.claim_no == case.claim_no)).first()
    if claim is None:
        raise MissingData(f"revisit_letter: no claim {case.claim_no}")
    items = [
        {"key": key, "question": claim_q.QUESTIONS_ZH[key], "options": CLAIM_OPTIONS_ZH[key]} for key in claim_q.ITEMS
    ]
    return {
        "letter_kind": "claim",
        "holder_name": policy.holder_name,
        "holder_address": policy.holder_address or "",
        "claim_no": claim.claim_no,
        "claimant_name": claim.claimant_name,
        "claim_type_zh": CLAIM_TYPES_ZH.get(claim.claim_type, claim.claim_type),
        "closed_date": claim.closed_date.isoformat() if claim.closed_date else None,
        "items": items,
        "return_address": settings.letter_return_address,
    }


__all__ = ["enrich", "MissingData"]
