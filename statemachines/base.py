"""What every Caseflow machine shares: pure declarations, readable rejections, a derived table."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from statemachine import StateMachine


class TransitionRejected(Exception):
    """A validator refused the event; ``reason`` is meant for the case handler."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CaseMachine(StateMachine):
    """Base for case machines: restored from the row's stored ``state``, never started afresh.

    Machines are pure: validators read the event payload and the row, raise ``TransitionRejected``
    with a reason, and change nothing; the engine writes everything.
    """

    # events a sweep fires without a person (timed events, SPEC §3); they must carry no guard,
    # so that the bulk path can apply them by state alone
    timed_events: tuple[str, ...] = ()

    def __init__(self, model: Any, **kwargs: Any) -> None:
        super().__init__(model=model, state_field="state", **kwargs)


def self_loops(*states: Any, **options: Any) -> Any:
    """The same self-transition on every given state (an event recorded on the case, its state unchanged)."""
    return reduce(or_, (state.to.itself(**options) for state in states))


def each_to(target: Any, sources: tuple[Any, ...], **options: Any) -> Any:
    """One transition to ``target`` from each of ``sources``, with the same options."""
    return reduce(or_, (source.to(target, **options) for source in sources))


@dataclass(frozen=True)
class TransitionRow:
    event: str
    source: str
    target: str
    guarded: bool


def transition_rows(machine: type[StateMachine]) -> list[TransitionRow]:
    """Every declared transition of a machine class, read once from the class (no instance)."""
    rows: list[TransitionRow] = []
    for state in machine.states:
        for transition in state.transitions:
            guarded = bool(list(transition.cond)) or bool(list(transition.validators))
            for ev in transition.events:
                rows.append(TransitionRow(str(ev), state.id, transition.target.id, guarded))
    return rows


def transition_table(machine: type[StateMachine]) -> dict[str, dict[str, str]]:
    """event → {source state → target state}; the bulk path and the API both derive from this."""
    table: dict[str, dict[str, str]] = {}
    for row in transition_rows(machine):
        sources = table.setdefault(row.event, {})
        if row.source in sources and sources[row.source] != row.target:
            raise ValueError(f"{machine.__name__}: {row.event} from {row.source} has two targets")
        sources[row.source] = row.target
    return table


def events_of(machine: type[StateMachine]) -> list[str]:
    return sorted(transition_table(machine))


def final_states(machine: type[StateMachine]) -> list[str]:
    return [s.id for s in machine.states if s.final]


def mermaid(machine: type[StateMachine]) -> str:
    """A mermaid state diagram generated from the class (never drawn by hand)."""
    lines = ["stateDiagram-v2"]
    initial = next(s for s in machine.states if s.initial)
    lines.append(f"    [*] --> {initial.id}")
    for row in transition_rows(machine):
        mark = " [timed]" if row.event in getattr(machine, "timed_events", ()) else ""
        lines.append(f"    {row.source} --> {row.target} : {row.event}{mark}")
    for state_id in final_states(machine):
        lines.append(f"    {state_id} --> [*]")
    return "\n".join(lines)


def describe(machine: type[StateMachine]) -> dict[str, Any]:
    return {
        "name": machine.__name__,
        "states": [
            {"id": s.id, "name": s.name, "initial": bool(s.initial), "final": bool(s.final)}
            for s in machine.states
        ],
        "events": events_of(machine),
        "timed_events": list(getattr(machine, "timed_events", ())),
        "transitions": [
            {"event": r.event, "source": r.source, "target": r.target} for r in transition_rows(machine)
        ],
        "mermaid": mermaid(machine),
    }
