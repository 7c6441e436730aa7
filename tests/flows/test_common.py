"""Flow glue: transient database errors are retried with backoff, anything else fails the run at once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from flows.common import TRANSIENT_RETRY_DELAYS, in_session


def _flaky(failures: list[Exception]) -> tuple[Any, list[int]]:
    calls: list[int] = []

    def work(session: Any, *, value: int) -> int:
        calls.append(value)
        if failures:
            raise failures.pop(0)
        return value * 2

    return work, calls


def test_a_locked_database_is_retried_with_backoff_then_succeeds(engine) -> None:  # type: ignore[no-untyped-def]
    locked = OperationalError("UPDATE", {}, Exception("database is locked"))
    work, calls = _flaky([locked, locked])
    slept: list[float] = []
    assert in_session(work, value=21, sleep=slept.append) == 42
    assert calls == [21, 21, 21] and slept == list(TRANSIENT_RETRY_DELAYS[:2])


def test_bad_data_is_not_retried(engine) -> None:  # type: ignore[no-untyped-def]
    work, calls = _flaky([IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))])
    slept: list[float] = []
    with pytest.raises(IntegrityError):
        in_session(work, value=1, sleep=slept.append)
    assert calls == [1] and slept == []


def test_the_last_transient_failure_fails_the_run(engine) -> None:  # type: ignore[no-untyped-def]
    lost = OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))
    work, calls = _flaky([lost] * 10)
    slept: list[float] = []
    with pytest.raises(OperationalError):
        in_session(work, value=1, sleep=slept.append)
    assert len(calls) == len(TRANSIENT_RETRY_DELAYS) + 1 and slept == list(TRANSIENT_RETRY_DELAYS)
