"""Intake of new contracts (SPEC §2.1–2.3, §2.9): policies in scope become revisit cases, set-based.

One case per policy, ever (a unique key); re-running for the same moment creates nothing.

Shared numbers (重复号码, SPEC §2.9) are counted over every policy on file. When a later policy makes a
phone the 3rd policyholder's, the cases already on file for that phone are flagged too, in the same run
(one query over the chunk's shared phones): a case still *before its first call* goes to verification
(reason ``shared_number``) with its immediate work order, exactly as the new one does; a case already
past it — called at least once, booked, classified, re-called after a branch verification, on the
letter/on-site rung, or a supplementary revisit (补访) — only gets the flag, audited as ``flagged``. The
regulation's intent is "flag before the first call": once HQ has spoken to the policyholder on that
number (or is about to, at a time they chose), pulling the case back to the branch would undo a
revisit in progress; the flag stays visible to the agent and to quality. Closed cases are left alone.

Columns that change without a state transition — the cooling-off period filled in once the receipt is
signed, the due date moved once the receipt is entered, the shared-number flag above — are written
with the case's version bumped and one audit row each (``cooling_off_set``, ``due_date_moved``,
``flagged``; source = target = the case's state), a batch at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, func, insert, literal, select, update
from sqlmodel import Session

from core.db import UTCDateTime
from domain import revisit_rules as rules
from domain.revisits import Ctx, escalate_to_letter, to_verification
from domain.sqlsets import among, json_object
from models import Agent, AuditEntry, Policy, RevisitCase

CHUNK = 1000
# the product's cooling-off days are below the rule's floor: the case runs on the floor (SPEC §2.3)
COOLING_OFF_FLOORED = "cooling_off_days_below_minimum"
SHARED_NUMBER = "shared_number"


@dataclass
class IntakeResult:
    created: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    special: int = 0
    opened: int = 0
    cooling_off_filled: int = 0
    due_date_moved: int = 0
    # cases on file flagged because a later policy made their phone shared (SPEC §2.9)
    shared_number_earlier: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "flagged": dict(self.flagged),
            "special": self.special,
            "opened": self.opened,
            "cooling_off_filled": self.cooling_off_filled,
            "due_date_moved": self.due_date_moved,
            "shared_number_earlier": self.shared_number_earlier,
        }


# the policy columns intake reads (rows, not ORM objects: 100 000 of them in one run)
POLICY_COLUMNS = (
    Policy.id, Policy.policy_no, Policy.branch_code, Policy.channel, Policy.agent_code, Policy.holder_phone,
    Policy.holder_name, Policy.special_revisit, Policy.issue_date, Policy.receipt_signed_date,
    Policy.receipt_entered_date, Policy.cooling_off_days,
)  # fmt: skip


def _pending_ids(session: Session, settings: Any) -> list[int]:
    """Ids of the policies in scope (SPEC §2.1) without a new-contract case yet, in id order — one query.

    One anti-join over the whole table, not one per chunk: its cost is a scan of the policies, once."""
    stmt = (
        select(Policy.id)
        .outerjoin(RevisitCase, and_(RevisitCase.policy_id == Policy.id, RevisitCase.kind == "new_contract"))
        .where(
            RevisitCase.id.is_(None),
            Policy.line.in_(settings.revisit_lines),
            Policy.term_years > settings.revisit_min_term_years_exclusive,
            Policy.holder_is_natural_person.is_(True),
        )
        .order_by(Policy.id)
    )
    return list(session.execute(stmt).scalars())


def _policies(session: Session, ids: Sequence[int], dialect: str) -> list[Any]:
    stmt = among(select(*POLICY_COLUMNS), Policy.id, ids, dialect, Integer).order_by(Policy.id)
    return list(session.execute(stmt).all())


def _holders_per_phone(session: Session, phones: set[str], dialect: str) -> dict[str, int]:
    """Distinct policyholders (by ID number, else name) per phone, over every policy on file."""
    counts: dict[str, int] = {}
    phone_list = sorted(p for p in phones if p)
    for i in range(0, len(phone_list), CHUNK):
        part = phone_list[i : i + CHUNK]
        holder = func.coalesce(Policy.holder_id_number, Policy.holder_name)
        stmt = select(Policy.holder_phone, func.count(func.distinct(holder)))
        rows = session.execute(among(stmt, Policy.holder_phone, part, dialect, String).group_by(Policy.holder_phone))
        counts.update({phone: n for phone, n in rows})
    return counts


def _new_ids(session: Session, n: int, dialect: str) -> list[int]:
    """Ids for the chunk's new cases, taken before the INSERT so that no look-up has to find them again.

    PostgreSQL: from the table's sequence. SQLite: after the largest id — the transaction holds the
    database's write lock from its first statement (BEGIN IMMEDIATE), so no other writer can take them."""
    if dialect == "postgresql":
        seq = func.pg_get_serial_sequence("revisit_case", "id")
        return list(session.execute(select(func.nextval(seq)).select_from(func.generate_series(1, n))).scalars())
    top = session.execute(select(func.max(RevisitCase.id))).scalar() or 0
    return list(range(top + 1, top + 1 + n))


def _created_audit(session: Session, case_ids: Sequence[int], dialect: str, ctx: Ctx) -> None:
    """The ``created`` audit rows of the chunk's new cases: one INSERT … SELECT, constants bound once."""
    table = RevisitCase.__table__
    payload = json_object(dialect, literal("policy_id"), table.c.policy_id)
    rows = select(
        literal("revisit"), table.c.id, literal(1), literal("created"), literal(""), literal("scheduled"),
        literal(ctx.actor), literal(ctx.now, UTCDateTime()), payload, literal(ctx.flow_run_id, String()),
    )  # fmt: skip
    session.execute(
        insert(AuditEntry.__table__).from_select(
            ["case_kind", "case_id", "version", "event", "source", "target", "actor", "at", "payload", "flow_run_id"],
            among(rows, table.c.id, case_ids, dialect, Integer),
        )
    )


def intake_new_contracts(session: Session, *, ctx: Ctx) -> IntakeResult:
    """Create the revisit cases of every pending policy; flagged ones go to verification or letter at once."""
    result = IntakeResult()
    settings, calendar = ctx.settings, ctx.calendar
    agents = {code: (phone, name) for code, phone, name in session.execute(select(Agent.code, Agent.phone, Agent.name))}
    flagged_total: dict[str, int] = defaultdict(int)
    table = RevisitCase.__table__
    dialect = session.get_bind().dialect.name
    pending = _pending_ids(session, settings)
    for start in range(0, len(pending), CHUNK):
        policies = _policies(session, pending[start : start + CHUNK], dialect)
        per_phone = _holders_per_phone(session, {p.holder_phone or "" for p in policies}, dialect)
        rows: list[dict[str, Any]] = []
        follow_ups: dict[int, tuple[list[str], str | None]] = {}
        for policy in policies:
            agent_phone, agent_name = agents.get(policy.agent_code, (None, None))
            flags, reason = rules.intake_flags(
                policy,
                agent_phone=agent_phone,
                agent_name=agent_name,
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
                    "supplementary_needed": False,
                    "late": False,
                    "priority": 0,
                    "attempt_count": 0,
                    "attempts_today": 0,
                    "recall_count": 0,
                    "version": 1,
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                }
            )
            if reason or policy.special_revisit:
                follow_ups[policy.id or 0] = (flags, reason)
            elif COOLING_OFF_FLOORED in flags:
                flagged_total[COOLING_OFF_FLOORED] += 1
        # Core executemany without RETURNING: one prepared statement (RETURNING would make SQLAlchemy send a
        # multi-VALUES text of 26 000 placeholders, which psycopg takes longer to parse than to write the rows)
        ids = _new_ids(session, len(rows), dialect)
        for case_id, row in zip(ids, rows, strict=True):
            row["id"] = case_id
        session.execute(insert(table), rows)
        _created_audit(session, ids, dialect, ctx)
        created = [(row["id"], row["policy_id"]) for row in rows]
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
        shared = {phone for phone, n in per_phone.items() if n >= settings.shared_number_threshold}
        result.shared_number_earlier += _flag_earlier_sharers(
            session, shared, {case_id for case_id, _ in created}, per_phone, ctx
        )
        session.commit()
    result.flagged = dict(flagged_total)
    result.cooling_off_filled = fill_cooling_off(session, ctx=ctx)
    result.due_date_moved = move_due_dates(session, ctx=ctx)
    return result


# --- shared numbers found later (SPEC §2.9) -------------------------------------------------------------------


def before_first_call(case: Any) -> bool:
    """Still before HQ's first call on this number: scheduled, or queued for calling with no attempt yet.

    Not a supplementary revisit (补访: the policyholder was reached on it), not a re-call after the
    branch verified the contact, not a special revisit (its phone is never called)."""
    return (
        case.state in ("scheduled", "calling")
        and case.attempt_count == 0
        and case.recall_count == 0
        and not case.supplementary_needed
        and not case.special_revisit
    )


def _flag_earlier_sharers(
    session: Session, shared: set[str], just_created: set[int], per_phone: dict[str, int], ctx: Ctx
) -> int:
    """Flag the open cases on file whose phone has just become shared; see the module docstring."""
    if not shared:
        return 0
    found: list[tuple[RevisitCase, str]] = []
    phones = sorted(shared)
    for i in range(0, len(phones), CHUNK):
        stmt = (
            select(RevisitCase, Policy.holder_phone)
            .join(Policy, Policy.id == RevisitCase.policy_id)
            .where(
                Policy.holder_phone.in_(phones[i : i + CHUNK]),
                RevisitCase.kind == "new_contract",
                RevisitCase.state.not_in(rules.CLOSED_STATES),
            )
            .order_by(RevisitCase.id)
        )
        found.extend(
            (case, phone)
            for case, phone in session.execute(stmt).all()
            if case.id not in just_created and SHARED_NUMBER not in case.flags
        )
    flag_only: list[tuple[Any, dict[str, Any], dict[str, Any]]] = []
    for case, phone in found:
        flags = [*case.flags, SHARED_NUMBER]
        if before_first_call(case):
            to_verification(session, case, SHARED_NUMBER, ctx, changes={"flags": flags})
        else:
            payload = {"flag": SHARED_NUMBER, "holders_on_phone": per_phone.get(phone, 0),
                       "reason": "the number became shared after the first call: flagged, not re-routed"}
            flag_only.append((case, {"flags": flags}, payload))
    if flag_only:
        session.flush()
        _audited_changes(session, "flagged", flag_only, ctx)
        for case, changes, _ in flag_only:
            session.expire(case)
    return len(found)


# --- columns changed without a transition, audited -----------------------------------------------------------


def _audited_changes(
    session: Session, event: str, items: Sequence[tuple[Any, dict[str, Any], dict[str, Any]]], ctx: Ctx
) -> None:
    """Set columns on cases without changing their state: version + 1 and one audit row each, set-based.

    ``items`` are ``(case row with id/version/state, {column: value}, audit payload)``; every item sets
    the same columns. The UPDATE is guarded by the version read: a case someone else changed meanwhile
    makes the audit INSERT collide on (case_kind, case_id, version) and the whole batch rolls back.
    """
    if not items:
        return
    table = RevisitCase.__table__
    columns = sorted(items[0][1])
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
        .values(version=bindparam("b_new_version"), updated_at=ctx.now, **{c: bindparam(f"b_{c}") for c in columns})
    )
    audit: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for case, changes, payload in items:
        audit.append({
            "case_kind": "revisit", "case_id": case.id, "version": case.version + 1, "event": event,
            "source": case.state, "target": case.state, "actor": ctx.actor, "at": ctx.now, "payload": payload,
            "flow_run_id": ctx.flow_run_id,
        })  # fmt: skip
        updates.append({"b_id": case.id, "b_version": case.version, "b_new_version": case.version + 1,
                        **{f"b_{c}": changes[c] for c in columns}})  # fmt: skip
    for i in range(0, len(items), CHUNK):
        session.execute(insert(AuditEntry.__table__), audit[i : i + CHUNK])
        session.execute(stmt, updates[i : i + CHUNK])


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def fill_cooling_off(session: Session, *, ctx: Ctx) -> int:
    """Open cases created before their receipt was signed get their cooling-off period once it is known.

    Audited as ``cooling_off_set`` (the case's version goes up), a chunk at a time."""
    filled = 0
    after = 0
    while True:
        stmt = (
            select(
                RevisitCase.id, RevisitCase.version, RevisitCase.state, RevisitCase.flags,
                RevisitCase.cooling_off_rule_version, Policy.receipt_signed_date, Policy.issue_date,
                Policy.cooling_off_days, RevisitCase.supplementary_needed, RevisitCase.due_date,
            )
            .join(Policy, Policy.id == RevisitCase.policy_id)
            .where(
                RevisitCase.id > after,
                RevisitCase.kind == "new_contract",
                RevisitCase.cooling_off_end.is_(None),
                Policy.receipt_signed_date.is_not(None),
                RevisitCase.state.not_in(rules.CLOSED_STATES),
            )
            .order_by(RevisitCase.id)
            .limit(CHUNK)
        )  # fmt: skip
        rows = session.execute(stmt).all()
        if not rows:
            break
        after = rows[-1].id
        items = []
        for row in rows:
            period = rules.cooling_off(row, ctx.settings, ctx.calendar, row.cooling_off_rule_version, at_least_floor=True)
            floored = rules.cooling_off_days_below_floor(row, ctx.settings, period.rule_version)
            flags = list(row.flags)
            if floored and COOLING_OFF_FLOORED not in flags:
                flags.append(COOLING_OFF_FLOORED)
            payload = {"cooling_off_start": _iso(period.start), "cooling_off_end": _iso(period.end),
                       "rule_version": period.rule_version, "floored": floored}  # fmt: skip
            # every item sets the same columns (_audited_changes): due_date too, unchanged unless moved below
            changes: dict[str, Any] = {"cooling_off_start": period.start, "cooling_off_end": period.end, "flags": flags,
                                       "due_date": row.due_date}
            if row.supplementary_needed and row.state == "scheduled" and period.start is not None:
                # 补访 waiting for a receipt: it is due the day the period starts, not at its provisional date
                again = period.start + timedelta(days=1)
                if again < row.due_date:
                    changes["due_date"] = again
                    payload["due_date"] = _iso(again)
            items.append((row, changes, payload))
        _audited_changes(session, "cooling_off_set", items, ctx)
        session.commit()
        filled += len(items)
    return filled


def _days_after(column: Any, days: int, dialect: str) -> Any:
    """``column + days`` for a DATE column, in SQL (SQLite keeps dates as ISO text)."""
    if dialect == "sqlite":
        return func.date(column, literal(f"+{days} days"))
    return column + days


def move_due_dates(session: Session, *, ctx: Ctx) -> int:
    """Cases still waiting whose receipt has been entered since intake fall due the day after (SPEC §2.2).

    Intake dates a policy without an entered receipt at issue + 15 days; once the receipt is entered
    the revisit is due the day after, which is usually much earlier — and the cooling-off clock runs.
    Only ever moved earlier, and never for a supplementary revisit (补访), which has its own date.
    Audited as ``due_date_moved``. Only the cases whose due date lies after the receipt's day are read
    (in SQL): every case dated from its receipt at intake is left out, so the cost follows the moves.
    """
    dialect = session.get_bind().dialect.name
    entered_due = _days_after(Policy.receipt_entered_date, ctx.settings.due_days_after_receipt_entered, dialect)
    moved = 0
    after = 0
    while True:
        stmt = (
            select(
                RevisitCase.id, RevisitCase.version, RevisitCase.state, RevisitCase.due_date, Policy.channel,
                Policy.issue_date, Policy.receipt_entered_date,
            )
            .join(Policy, Policy.id == RevisitCase.policy_id)
            .where(
                RevisitCase.id > after,
                RevisitCase.kind == "new_contract",
                RevisitCase.state == "scheduled",
                RevisitCase.supplementary_needed.is_(False),
                Policy.receipt_entered_date.is_not(None),
                Policy.channel != "bancassurance",
                RevisitCase.due_date > entered_due,
            )
            .order_by(RevisitCase.id)
            .limit(CHUNK)
        )  # fmt: skip
        rows = session.execute(stmt).all()
        if not rows:
            break
        after = rows[-1].id
        items = []
        for row in rows:
            due = rules.due_date(row, ctx.settings)
            if due < row.due_date:
                items.append((row, {"due_date": due}, {"from": _iso(row.due_date), "to": _iso(due)}))
        _audited_changes(session, "due_date_moved", items, ctx)
        session.commit()
        moved += len(items)
    return moved
