"""The complaint (投诉, SPEC §2.12 and §3).

received → acknowledged → investigating → plan_made → implementing → responded → follow_up → closed;
responded / follow_up → reopened → investigating (the complainant is dissatisfied).

``escalated`` is a state: a clock that ran out (timed ``escalate`` from every open state) or the second
reopening stops the ordinary lifecycle until a supervisor or manager acts — ``take_over`` sends it back
into investigation, ``respond`` answers the complainant directly. A clock that runs out while the complaint
is already escalated is recorded by the timed self-transition ``escalate_again`` (a separate event, so that
``escalate`` never moves a row into one of its own sources and stays appliable in bulk).

Extension (延期) is not a state, so the complaint keeps its place in the lifecycle: ``extend`` (to 30 days,
with notice to the complainant) and ``extend_further`` (a further 30 days, with approval) are recorded
self-transitions that move the reply deadline. Ownership (首问责任制: ``take``, ``hand_over``,
``accept_handover``, ``decline_handover``) and progress notes are self-transitions too: versioned and audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import reduce
from operator import or_
from typing import Any

from statemachine import State

from statemachines.base import CaseMachine, TransitionRejected, each_to, self_loops

ROOT_CAUSES = ("process", "service_norms", "people", "systems")
URGENCIES = ("normal", "urgent")
# states in which the complaint still waits for a reply: the reply clock runs in these
BEFORE_REPLY = ("received", "acknowledged", "investigating", "plan_made", "implementing", "reopened", "escalated")
OPEN_STATES = (*BEFORE_REPLY, "responded", "follow_up")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _texts(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_text(v) for v in value)


def intake_problems(fields: Mapping[str, Any]) -> list[str]:
    """What an intake record lacks (SPEC §2.12: channel, complainant, content, category, urgency)."""
    problems = []
    for name in ("channel", "complainant_name", "content", "category"):
        if not _text(fields.get(name)):
            problems.append(f"'{name}' is required")
    if fields.get("urgency") not in URGENCIES:
        problems.append(f"'urgency' must be one of {', '.join(URGENCIES)}")
    return problems


def _same_person(a: str | None, b: str | None) -> bool:
    def norm(v: str) -> str:
        v = v.strip()
        return v.split(":", 1)[1] if ":" in v else v

    return bool(a) and bool(b) and norm(str(a)) == norm(str(b))


def conflicted_with(person: str | None, *, accused: str | None, agent_code: str | None) -> bool:
    """回避: the person complained about (or the agent of a misleading sale) may not own or handle it."""
    return _same_person(accused, person) or _same_person(agent_code, person)


def conflicted(model: Any, person: str | None) -> bool:
    return conflicted_with(person, accused=getattr(model, "accused", None), agent_code=getattr(model, "agent_code", None))


def _loops(*states: State) -> Any:
    return reduce(or_, (s.to.itself() for s in states))


class ComplaintMachine(CaseMachine):
    """received → acknowledged → investigating → plan_made → implementing → responded → follow_up → closed."""

    timed_events = ("escalate", "escalate_again")

    received = State(initial=True)
    acknowledged = State()
    investigating = State()
    plan_made = State()
    implementing = State()
    responded = State()
    follow_up = State()
    reopened = State()
    escalated = State()
    closed = State(final=True)

    # --- the lifecycle --------------------------------------------------------------------------------
    acknowledge = received.to(acknowledged)
    investigate = acknowledged.to(investigating) | reopened.to(investigating)
    # facts, evidence, root cause: recorded while investigating (and again after a reopening)
    record_findings = investigating.to.itself(validators="needs_findings")
    make_plan = investigating.to(plan_made, validators=["needs_recorded_findings", "needs_plan"])
    start_implementation = plan_made.to(implementing)
    respond = implementing.to(responded, validators="needs_result") | escalated.to(
        responded, validators="needs_result"
    )
    start_follow_up = responded.to(follow_up)
    close = follow_up.to(closed, validators="needs_follow_up_result")
    reopen = responded.to(reopened, validators="needs_reason") | follow_up.to(reopened, validators="needs_reason")

    # --- progress notes (the 2-working-day feedback is one of them, told to the complainant) -----------
    record_progress = self_loops(
        acknowledged, investigating, plan_made, implementing, reopened, escalated,
        validators="needs_note",
    )

    # --- extension of the reply limit (complex cases) ---------------------------------------------------
    extend = self_loops(
        received, acknowledged, investigating, plan_made, implementing, reopened, escalated,
        validators="needs_first_extension",
    )
    extend_further = self_loops(
        received, acknowledged, investigating, plan_made, implementing, reopened, escalated,
        validators="needs_approved_extension",
    )

    # --- ownership (首问责任制, 回避) ---------------------------------------------------------------------
    take = self_loops(
        received, acknowledged, investigating, plan_made, implementing, responded, follow_up, reopened, escalated,
        validators="needs_free_case",
    )
    hand_over = self_loops(
        received, acknowledged, investigating, plan_made, implementing, responded, follow_up, reopened, escalated,
        validators="needs_new_owner",
    )
    accept_handover = self_loops(
        received, acknowledged, investigating, plan_made, implementing, responded, follow_up, reopened, escalated,
        validators="needs_pending_owner",
    )
    decline_handover = self_loops(
        received, acknowledged, investigating, plan_made, implementing, responded, follow_up, reopened, escalated,
        validators="needs_open_handover",
    )

    # --- escalation ---------------------------------------------------------------------------------------
    # timed (complaint-sla-sweep): a clock reached 100 %; also sent when the second reopening happens
    escalate = each_to(
        escalated, (received, acknowledged, investigating, plan_made, implementing, responded, follow_up, reopened),
    )
    escalate_again = _loops(escalated)  # timed: another clock ran out while escalated
    take_over = escalated.to(investigating, validators="needs_note")

    # --- validators (pure: the payload and the row, nothing else) -----------------------------------------
    def needs_note(self, note: str | None = None, **_: Any) -> None:
        if not _text(note):
            raise TransitionRejected("this event needs a 'note' (what was done or told)")

    def needs_reason(self, reason: str | None = None, **_: Any) -> None:
        if not _text(reason):
            raise TransitionRejected("this event needs a 'reason'")

    def needs_findings(
        self, findings: str | None = None, evidence: Any = None, root_cause: str | None = None, **_: Any
    ) -> None:
        if not _text(findings):
            raise TransitionRejected("the investigation needs 'findings' (the facts established)")
        if not _texts(evidence):
            raise TransitionRejected("the investigation needs 'evidence', a non-empty list of texts")
        if root_cause not in ROOT_CAUSES:
            raise TransitionRejected(f"'root_cause' must be one of {', '.join(ROOT_CAUSES)}")

    def needs_recorded_findings(self, **_: Any) -> None:
        if not getattr(self.model, "root_cause", None) or not (self.model.details or {}).get("investigation"):
            raise TransitionRejected("record the findings (record_findings) before making the plan")

    def needs_plan(
        self, measures: Any = None, department: str | None = None, person: str | None = None,
        deadline: Any = None, **_: Any,
    ) -> None:
        if not _texts(measures):
            raise TransitionRejected("the plan needs 'measures', a non-empty list of texts")
        if not _text(department):
            raise TransitionRejected("the plan needs the responsible 'department'")
        if not _text(person):
            raise TransitionRejected("the plan needs the responsible 'person'")
        if not _is_date(deadline):
            raise TransitionRejected("the plan needs a 'deadline' (YYYY-MM-DD or an ISO-8601 time)")

    def needs_result(self, result: str | None = None, satisfaction: Any = None, **_: Any) -> None:
        if not _text(result):
            raise TransitionRejected("the response needs the 'result' given to the complainant")
        if isinstance(satisfaction, bool) or not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5:
            raise TransitionRejected("the response needs the complainant's 'satisfaction', an integer 1–5")

    def needs_follow_up_result(self, follow_up_result: str | None = None, **_: Any) -> None:
        if not _text(follow_up_result):
            raise TransitionRejected("closing needs the 'follow_up_result' of the follow-up revisit")

    def needs_first_extension(self, reason: str | None = None, **_: Any) -> None:
        if self.model.extension_count != 0:
            raise TransitionRejected("the reply limit was extended already: a further extension needs approval")
        if getattr(self.model, "source", None) == "post_claim":
            raise TransitionRejected("a post-claim problem has fixed 24 h / 48 h limits: it cannot be extended")
        self.needs_reason(reason)

    def needs_approved_extension(self, reason: str | None = None, approver: str | None = None, **_: Any) -> None:
        if self.model.extension_count != 1:
            raise TransitionRejected("a further extension follows the first one (extend), and only once")
        self.needs_reason(reason)
        if not _text(approver):
            raise TransitionRejected("a further extension needs the 'approver'")

    def needs_free_case(self, handler: str | None = None, **_: Any) -> None:
        if not _text(handler):
            raise TransitionRejected("taking a complaint needs the 'handler'")
        if conflicted(self.model, handler):
            raise TransitionRejected("回避: the person complained about may not own this complaint")
        if self.model.owner and self.model.owner != handler:
            raise TransitionRejected(f"the complaint is owned by {self.model.owner}: ask for a handover")

    def needs_new_owner(self, to: str | None = None, **_: Any) -> None:
        if not _text(to):
            raise TransitionRejected("a handover needs 'to', the new owner")
        if to == self.model.owner:
            raise TransitionRejected(f"{to} owns the complaint already")
        if conflicted(self.model, to):
            raise TransitionRejected("回避: the person complained about may not own this complaint")

    def needs_pending_owner(self, handler: str | None = None, **_: Any) -> None:
        if not self.model.pending_owner:
            raise TransitionRejected("no handover is waiting for acceptance")
        if handler != self.model.pending_owner:
            raise TransitionRejected(f"the handover is offered to {self.model.pending_owner}, not to {handler}")

    def needs_open_handover(self, **_: Any) -> None:
        if not self.model.pending_owner:
            raise TransitionRejected("no handover is waiting for acceptance")


def _is_date(value: Any) -> bool:
    if isinstance(value, (date, datetime)):
        return True
    if not isinstance(value, str):
        return False
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(value)
            return True
        except ValueError:
            continue
    return False
