"""Intake of new contracts (SPEC §2.1–2.3, §2.9): policies in scope become revisit cases, set-based.

One case per policy, ever (a unique key); re-running for the same moment creates nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlmodel import Session

from domain import revisit_rules as rules
from domain.revisits import Ctx, escalate_to_letter, to_verification
from models import Agent, AuditEntry, Policy, RevisitCase

CHUNK = 1000
# the product's cooling-off days are below the rule's floor: the case runs on the floor (SPEC §2.3)
COOLING_OFF_FLOORED = "cooling_off_days_below_minimum"


@dataclass
class IntakeResult:
    created: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    special: int = 0
    opened: int = 0
    cooling_off_filled: int = 0
    due_date_moved: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "flagged": dict(self.flagged),
            "special": self.special,
            "opened": self.opened,
            "cooling_off_filled": self.cooling_off_filled,
            "due_date_moved": self.due_date_moved,
        }


def _pending_policies(session: Session, after_id: int, settings: Any) -> list[Policy]:
    """Policies in scope (SPEC §2.1) without a new-contract case yet, in id order."""
    stmt = (
        select(Policy)
        .outerjoin(RevisitCase, and_(RevisitCase.policy_id == Policy.id, RevisitCase.kind == "new_contract"))
        .where(
            RevisitCase.id.is_(None),
            Policy.id > after_id,
            Policy.line.in_(settings.revisit_lines),
            Policy.term_years > settings.revisit_min_term_years_exclusive,
            Policy.holder_is_natural_person.is_(True),
        )
        .order_by(Policy.id)
        .limit(CHUNK)
    )
    return list(session.execute(stmt).scalars())


def _holders_per_phone(session: Session, phones: set[str]) -> dict[str, int]:
    """Distinct policyholders (by ID number, else name) per phone, over every policy on file."""
    counts: dict[str, int] = {}
    phone_list = sorted(p for p in phones if p)
    for i in range(0, len(phone_list), CHUNK):
        part = phone_list[i : i + CHUNK]
        holder = func.coalesce(Policy.holder_id_number, Policy.holder_name)
        rows = session.execute(
            select(Policy.holder_phone, func.count(func.distinct(holder)))
            .where(Policy.holder_phone.in_(part))
            .group_by(Policy.holder_phone)
        ).all()
        counts.update({phone: n for phone, n in rows})
    return counts


def intake_new_contracts(session: Session, *, ctx: Ctx) -> IntakeResult:
    """Create the revisit cases of every pending policy; flagged ones go to verification or letter at once."""
    result = IntakeResult()
    settings, calendar = ctx.settings, ctx.calendar
    agents = {a.code: a for a in session.execute(select(Agent)).scalars()}
    flagged_total: dict[str, int] = defaultdict(int)
    after = 0
    while True:
        policies = _pending_policies(session, after, settings)
        if not policies:
            break
        after = policies[-1].id or after
        per_phone = _holders_per_phone(session, {p.holder_phone or "" for p in policies})
        rows: list[dict[str, Any]] = []
        follow_ups: dict[int, tuple[list[str], str | None]] = {}
        for policy in policies:
            agent = agents.get(policy.agent_code)
            flags, reason = rules.intake_flags(
                policy,
                agent_phone=agent.phone if agent else None,
                agent_name=agent.name if agent else None,
                holders_on_phone=per_phone.get(policy.holder_phone or "", 1),
                settings=settings,
            )
            period = rules.cooling_off(policy, settings, calendar, at_least_floor=True)
            if rules.cooling_off_days_below_floor(policy, settings, period.rule_version):
                flags.append(COOLING_OFF_FLOORED)
            rows.append(
                {
                    "kind": "new_contract",
                    "policy_id": policy.id,
                    "policy_no": policy.policy_no,
                    "claim_no": "",
                    "branch_code": policy.branch_code,
                    "channel": policy.channel,
                    "agent_code": policy.agent_code,
                    "state": "scheduled",
                    "flags": flags,
                    "sub_types": [],
                    "failure_reasons": [],
                    "answers": {},
                    "due_date": rules.due_date(policy, settings),
                    "cooling_off_start": period.start,
                    "cooling_off_end": period.end,
                    "cooling_off_rule_version": period.rule_version,
                    "special_revisit": policy.special_revisit,
                    "version": 1,
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                }
            )
            if reason or policy.special_revisit:
                follow_ups[policy.id or 0] = (flags, reason)
            elif COOLING_OFF_FLOORED in flags:
                flagged_total[COOLING_OFF_FLOORED] += 1
        created = session.execute(
            insert(RevisitCase).returning(RevisitCase.id, RevisitCase.policy_id, sort_by_parameter_order=True), rows
        ).all()
        session.execute(
            insert(AuditEntry),
            [
                {
                    "case_kind": "revisit",
                    "case_id": case_id,
                    "version": 1,
                    "event": "created",
                    "source": "",
                    "target": "scheduled",
                    "actor": ctx.actor,
                    "at": ctx.now,
                    "payload": {"policy_id": policy_id},
                    "flow_run_id": ctx.flow_run_id,
                }
                for case_id, policy_id in created
            ],
        )
        result.created += len(created)
        # the few flagged cases go through the engine one by one (SPEC §2.9: before the first call)
        for case_id, policy_id in created:
            if policy_id not in follow_ups:
                continue
            flags, reason = follow_ups[policy_id]
            case = session.get(RevisitCase, case_id)
            assert case is not None
            if "special_revisit" in flags:
                # SPEC §2.7: a special revisit skips straight to letter/on-site, whatever its phone
                # (a shared or agent's number is no reason to verify a phone nobody will call)
                escalate_to_letter(session, case, "special revisit (特殊回访件) flagged at intake", ctx)
                result.special += 1
            else:
                to_verification(session, case, reason or "wrong_number", ctx)
            for flag in flags:
                if flag != "special_revisit":
                    flagged_total[flag] += 1
        session.commit()
    result.flagged = dict(flagged_total)
    result.cooling_off_filled = fill_cooling_off(session, ctx=ctx)
    result.due_date_moved = move_due_dates(session, ctx=ctx)
    return result


def fill_cooling_off(session: Session, *, ctx: Ctx) -> int:
    """Open cases created before their receipt was signed get their cooling-off end once it is known."""
    stmt = (
        select(RevisitCase, Policy)
        .join(Policy, Policy.id == RevisitCase.policy_id)
        .where(
            RevisitCase.kind == "new_contract",
            RevisitCase.cooling_off_end.is_(None),
            Policy.receipt_signed_date.is_not(None),
            RevisitCase.state.not_in(rules.CLOSED_STATES),
        )
    )
    filled = 0
    for case, policy in session.execute(stmt).all():
        period = rules.cooling_off(
            policy, ctx.settings, ctx.calendar, case.cooling_off_rule_version, at_least_floor=True
        )
        case.cooling_off_start, case.cooling_off_end = period.start, period.end
        if rules.cooling_off_days_below_floor(policy, ctx.settings, period.rule_version) and (
            COOLING_OFF_FLOORED not in case.flags
        ):
            case.flags = [*case.flags, COOLING_OFF_FLOORED]
        session.add(case)
        filled += 1
    session.commit()
    return filled


def move_due_dates(session: Session, *, ctx: Ctx) -> int:
    """Cases still waiting whose receipt has been entered since intake fall due the day after (SPEC §2.2).

    Intake dates a policy without an entered receipt at issue + 15 days; once the receipt is entered
    the revisit is due the day after, which is usually much earlier — and the cooling-off clock runs.
    Only ever moved earlier, and never for a supplementary revisit (补访), which has its own date.
    """
    stmt = (
        select(RevisitCase, Policy)
        .join(Policy, Policy.id == RevisitCase.policy_id)
        .where(
            RevisitCase.kind == "new_contract",
            RevisitCase.state == "scheduled",
            RevisitCase.supplementary_needed.is_(False),
            Policy.receipt_entered_date.is_not(None),
            Policy.channel != "bancassurance",
        )
    )
    moved = 0
    for case, policy in session.execute(stmt).all():
        due = rules.due_date(policy, ctx.settings)
        if due < case.due_date:
            case.due_date = due
            session.add(case)
            moved += 1
    session.commit()
    return moved
