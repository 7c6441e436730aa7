"""The revisit case (新契约回访 and 理赔回访, SPEC §2.5–2.8 and §3)."""

from __future__ import annotations

from typing import Any

from statemachine import State

from statemachines.base import CaseMachine, TransitionRejected, each_to, self_loops

OPEN_CALLING = ("calling", "appointment", "recall")


class RevisitMachine(CaseMachine):
    """scheduled → calling ⇄ appointment → one of the four classes → … → closed_success | closed_failed."""

    timed_events = (
        "open_calls",
        "appointment_due",
        "recall_due",
        "attempt_window_expired",
        "work_order_overdue",
        "cooling_off_deadline_near",
        "cooling_off_expired",
        "ladder_jump",
        "revisit_deadline_missed",
        "follow_up_window_expired",
    )

    scheduled = State(initial=True)
    calling = State()
    appointment = State()
    standard = State()
    substandard = State()
    problem = State()
    follow_up_call = State()
    second_communication = State()
    verification = State()
    recall = State()
    letter_or_onsite = State()
    closed_success = State(final=True)
    closed_failed = State(final=True)
    misleading_confirmed = State(final=True)
    cancelled = State(final=True)

    # --- the call queue ----------------------------------------------------------------------------
    open_calls = scheduled.to(calling)  # timed: the extraction date (清单抽取) has come
    book_appointment = calling.to(appointment, validators="needs_time") | appointment.to(
        appointment, validators="needs_time"
    ) | recall.to(appointment, validators="needs_time")
    appointment_due = appointment.to(calling)  # timed: the customer's time has come
    # an attempt that decides nothing yet (no answer, busy, someone else answered)
    # (HQ's follow-up call of a problem case counts and spaces its failed attempts the same way)
    attempt_failed = (
        calling.to(calling) | appointment.to(appointment) | recall.to(recall) | follow_up_call.to(follow_up_call)
    )
    attempt_window_expired = calling.to(verification) | appointment.to(verification) | recall.to(verification)

    # --- the four classes (回访结果分类, SPEC §2.6) -----------------------------------------------------
    classify_standard = calling.to(standard) | appointment.to(standard) | recall.to(standard)
    classify_substandard = calling.to(substandard) | appointment.to(substandard) | recall.to(substandard)
    classify_problem = calling.to(problem) | appointment.to(problem) | recall.to(problem)
    classify_verification = (
        calling.to(verification) | appointment.to(verification) | recall.to(verification) | scheduled.to(verification)
    )
    close = standard.to(closed_success)
    remark_recorded = substandard.to(closed_success)
    # a success before the cooling-off period started needs a supplementary revisit (补访) — whichever way
    # it succeeded: on the first call, after the follow-up call, or by letter / on-site
    require_supplementary = each_to(
        scheduled, (standard, substandard, follow_up_call, letter_or_onsite),
    )

    # --- problem cases (问题件) -----------------------------------------------------------------------
    explanation_recorded = problem.to(follow_up_call) | second_communication.to(follow_up_call)
    follow_up_understood = follow_up_call.to(closed_success)
    follow_up_not_understood = follow_up_call.to(second_communication)
    # the follow-up call cannot be made (attempt budget spent, wrong number, refused…): the branch takes it
    # on by letter / on-site, as every failed phone revisit (不成功件, SPEC §2.7–2.8)
    follow_up_unreachable = follow_up_call.to(letter_or_onsite, validators="needs_reason")
    # timed: the follow-up call's unreached window (attempt_budget_days) has passed: letter / on-site too
    follow_up_window_expired = follow_up_call.to(letter_or_onsite)
    confirm_misleading = follow_up_call.to(misleading_confirmed, validators="needs_reason") | second_communication.to(
        misleading_confirmed, validators="needs_reason"
    )

    # --- verification and the ladder (核实件, SPEC §2.7) ------------------------------------------------
    contact_fixed = verification.to(recall)
    recall_due = recall.to(calling)  # timed: HQ calls again
    escalate_to_letter = each_to(
        letter_or_onsite, (scheduled, calling, appointment, verification, recall), validators="needs_reason",
    )
    # timed: the ladder planned backwards from the cooling-off end has no room for another phone rung
    ladder_jump = each_to(
        letter_or_onsite, (scheduled, calling, appointment, verification, recall),
    )
    letter_or_onsite_success = letter_or_onsite.to(closed_success)
    close_failed = letter_or_onsite.to(closed_failed, validators="needs_reasons")

    # --- timed self-transitions: recorded on the case, state unchanged ------------------------------------
    work_order_overdue = (
        substandard.to.itself()
        | problem.to.itself()
        | second_communication.to.itself()
        | verification.to.itself()
        | letter_or_onsite.to.itself()
    )
    # a sub-standard revisit is already a success (only the branch's remark is pending): no deadline of the
    # revisit itself can pass on it
    cooling_off_deadline_near = self_loops(
        scheduled, calling, appointment, verification, recall, problem, follow_up_call, second_communication,
        letter_or_onsite,
    )
    cooling_off_expired = self_loops(
        scheduled, calling, appointment, verification, recall, problem, follow_up_call, second_communication,
        letter_or_onsite,
    )
    # a claim revisit not completed within its working days of closing (SPEC §2.11): recorded, state unchanged
    revisit_deadline_missed = self_loops(
        scheduled, calling, appointment, verification, recall, problem, follow_up_call, second_communication,
        letter_or_onsite,
    )
    # the policy was surrendered or cancelled: nothing more to revisit
    cancel = each_to(
        cancelled, (scheduled, calling, appointment, verification, recall, letter_or_onsite), validators="needs_reason",
    )

    def needs_time(self, appointment_at: Any = None, **_: Any) -> None:
        if not appointment_at:
            raise TransitionRejected("an appointment needs 'appointment_at'")

    def needs_reason(self, reason: str | None = None, **_: Any) -> None:
        if not reason or not str(reason).strip():
            raise TransitionRejected("this event needs a 'reason'")

    def needs_reasons(self, reasons: list[str] | None = None, **_: Any) -> None:
        # 详细记录不能完成回访的原因: a failed revisit closes only with its reasons
        # a list, not any iterable: a text or an object would pass as its characters or keys and close with none
        if not isinstance(reasons, list) or not reasons or not all(isinstance(r, str) and r.strip() for r in reasons):
            raise TransitionRejected("closing as failed needs 'reasons', a non-empty list of texts")
