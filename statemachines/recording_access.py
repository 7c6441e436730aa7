"""A request to hear a call recording (录音调阅, SPEC §2.13 and §3)."""

from __future__ import annotations

from typing import Any

from statemachine import State

from statemachines.base import CaseMachine, TransitionRejected


class RecordingAccessMachine(CaseMachine):
    """requested → approved | rejected; approved → accessed (each later hearing is logged again) → closed."""

    requested = State(initial=True)
    approved = State()
    rejected = State(final=True)
    accessed = State()
    closed = State(final=True)

    approve = requested.to(approved)
    reject = requested.to(rejected, validators="needs_reason")
    access = approved.to(accessed) | accessed.to.itself()
    # the review the recording was needed for is done: no more hearings on this approval
    close = approved.to(closed) | accessed.to(closed)

    def needs_reason(self, reason: str | None = None, **_: Any) -> None:
        if not reason or not str(reason).strip():
            raise TransitionRejected("a rejection needs a 'reason' for the requester")
