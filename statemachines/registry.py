"""Case kinds: which table and which machine; the derived transition table is built once here."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from statemachines.base import CaseMachine, transition_table


@dataclass(frozen=True)
class CaseKind:
    name: str
    model: Any
    machine: type[CaseMachine]

    @cached_property
    def table(self) -> dict[str, dict[str, str]]:
        return transition_table(self.machine)


_KINDS: dict[str, CaseKind] = {}


def register(name: str, model: Any, machine: type[CaseMachine]) -> None:
    _KINDS[name] = CaseKind(name, model, machine)


def get_kind(name: str) -> CaseKind:
    _ensure_loaded()
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown case kind {name!r}; kinds: {', '.join(sorted(_KINDS))}") from None


def kinds() -> dict[str, CaseKind]:
    _ensure_loaded()
    return dict(_KINDS)


def machines() -> dict[str, type[CaseMachine]]:
    """Machines by their public name (``GET /statemachines/{name}``)."""
    _ensure_loaded()
    return {k.name: k.machine for k in _KINDS.values()}


def _ensure_loaded() -> None:
    if _KINDS:
        return
    from models import CareTouch, Complaint, RecordingAccessRequest, RevisitCase, WorkOrder
    from statemachines.care_touch import CareTouchMachine
    from statemachines.complaint import ComplaintMachine
    from statemachines.recording_access import RecordingAccessMachine
    from statemachines.revisit import RevisitMachine
    from statemachines.work_order import WorkOrderMachine

    register("revisit", RevisitCase, RevisitMachine)
    register("work_order", WorkOrder, WorkOrderMachine)
    register("complaint", Complaint, ComplaintMachine)
    register("care_touch", CareTouch, CareTouchMachine)
    register("recording_access", RecordingAccessRequest, RecordingAccessMachine)
