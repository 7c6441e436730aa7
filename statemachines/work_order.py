"""The branch work order (工单, SPEC §2.8 and §3)."""

from __future__ import annotations

from typing import Any

from statemachine import State

from statemachines.base import CaseMachine, TransitionRejected


class WorkOrderMachine(CaseMachine):
    """open → in_progress → submitted → accepted | returned (→ in_progress); overdue → explained | quality_listed."""

    timed_events = ("mark_overdue", "quality_list", "withdraw")

    open = State(initial=True)
    in_progress = State()
    submitted = State()
    returned = State()
    overdue = State()
    explained = State()
    quality_listed = State()
    accepted = State(final=True)
    cancelled = State(final=True)

    start = open.to(in_progress)
    submit = (
        open.to(submitted, validators="needs_result")
        | in_progress.to(submitted, validators="needs_result")
        | returned.to(submitted, validators="needs_result")
        | overdue.to(submitted, validators="needs_result")
        | explained.to(submitted, validators="needs_result")
        | quality_listed.to(submitted, validators="needs_result")
    )
    accept = submitted.to(accepted)
    return_to_branch = submitted.to(returned, validators="needs_reason")
    resume = returned.to(in_progress)
    # timed (revisit-sweep): not done by its working-day deadline
    mark_overdue = open.to(overdue) | in_progress.to(overdue) | returned.to(overdue)
    # 逾期情况书面说明: a written explanation keeps it off the quality list
    explain = overdue.to(explained, validators="needs_explanation")
    quality_list = overdue.to(quality_listed)
    # the case moved past this order's rung (e.g. to letter / on-site): the branch's work is no longer wanted
    withdraw = (
        open.to(cancelled) | in_progress.to(cancelled) | returned.to(cancelled) | overdue.to(cancelled)
        | explained.to(cancelled)
    )
    cancel = (
        open.to(cancelled, validators="needs_reason")
        | in_progress.to(cancelled, validators="needs_reason")
        | returned.to(cancelled, validators="needs_reason")
        | overdue.to(cancelled, validators="needs_reason")
        | explained.to(cancelled, validators="needs_reason")
        | quality_listed.to(cancelled, validators="needs_reason")
    )

    def needs_result(self, result: dict[str, Any] | None = None, **_: Any) -> None:
        if not result or not isinstance(result, dict):
            raise TransitionRejected("submit needs a 'result' object recording what the branch did")

    def needs_reason(self, reason: str | None = None, **_: Any) -> None:
        if not reason or not str(reason).strip():
            raise TransitionRejected("this event needs a 'reason'")

    def needs_explanation(self, explanation: str | None = None, **_: Any) -> None:
        if not explanation or not str(explanation).strip():
            raise TransitionRejected("an overdue explanation (逾期情况书面说明) needs the 'explanation' text")
