"""A post-claim care touch (理赔关怀, SPEC §2.11): scheduled → done | missed."""

from __future__ import annotations

from typing import Any

from statemachine import State

from statemachines.base import CaseMachine, TransitionRejected

CHANNELS = ("phone", "sms")


class CareTouchMachine(CaseMachine):
    """scheduled → done (the customer was reached: result, satisfaction) | missed (not reached)."""

    scheduled = State(initial=True)
    done = State(final=True)
    missed = State(final=True)

    record_done = scheduled.to(done, validators="needs_channel")
    record_missed = scheduled.to(missed, validators="needs_channel")

    def needs_channel(self, channel: str | None = None, **_: Any) -> None:
        if channel not in CHANNELS:
            raise TransitionRejected(f"a care touch is recorded with 'channel' one of {', '.join(CHANNELS)}")
