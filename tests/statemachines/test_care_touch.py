"""The care-touch machine (SPEC §2.11): every declared transition, and the channel it needs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from statemachines.base import TransitionRejected
from statemachines.care_touch import CareTouchMachine
from statemachines.registry import get_kind

TABLE = get_kind("care_touch").table
ROWS = [(event, source, target) for event, sources in TABLE.items() for source, target in sources.items()]


def test_declared_table() -> None:
    assert TABLE == {"record_done": {"scheduled": "done"}, "record_missed": {"scheduled": "missed"}}
    assert CareTouchMachine.timed_events == ()


@pytest.mark.parametrize(("event", "source", "target"), ROWS)
def test_each_transition(event: str, source: str, target: str) -> None:
    row = SimpleNamespace(state=source)
    CareTouchMachine(row).send(event, channel="phone")
    assert row.state == target


@pytest.mark.parametrize(("event", "source", "target"), ROWS)
def test_each_transition_needs_a_known_channel(event: str, source: str, target: str) -> None:
    row = SimpleNamespace(state=source)
    with pytest.raises(TransitionRejected, match="channel"):
        CareTouchMachine(row).send(event, channel="fax")
    assert row.state == source
