"""The one writer of case state (SPEC §3, STYLE "one writer").

``apply_event`` is the per-case path (API requests, a handful of cases in a flow): lock the row,
check the version, restore the machine from the stored value, send the event, write the audit row and
the outbox rows, bump the version, commit once — or change nothing.

``apply_bulk`` is the sweeps' path: the transition table derived once from the machine class, applied
as one ``UPDATE … RETURNING`` per source state and one multi-row audit ``INSERT`` per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, cast, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from pydantic_core import PydanticUndefined
from statemachine.exceptions import TransitionNotAllowed

from core.clock import as_utc
from core.db import UTCDateTime
from models import AuditEntry, OutboxMessage
from statemachines.base import TransitionRejected
from statemachines.registry import CaseKind, get_kind


class EngineError(Exception):
    """Base of the engine's refusals; nothing was changed when one is raised."""


class CaseNotFound(EngineError):
    def __init__(self, kind: str, case_id: int) -> None:
        super().__init__(f"{kind} {case_id} does not exist")
        self.kind, self.case_id = kind, case_id


class UnknownEvent(EngineError):
    def __init__(self, kind: str, event: str, events: Sequence[str]) -> None:
        super().__init__(f"{kind} has no event {event!r}; its events are: {', '.join(events)}")
        self.event, self.events = event, list(events)


class StaleVersion(EngineError):
    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"the case is at version {current}, not {expected}: reload it and try again")
        self.expected, self.current = expected, current


class EventNotAllowed(EngineError):
    def __init__(self, event: str, state: str, allowed: Sequence[str]) -> None:
        allowed_text = ", ".join(allowed) or "none"
        super().__init__(f"{event!r} is not allowed in state {state!r}; allowed events: {allowed_text}")
        self.event, self.state, self.allowed = event, state, list(allowed)


class Rejected(EngineError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Message:
    """An outbox row a transition asks for; written in the transition's own transaction."""

    channel: str
    template: str
    recipient: str
    context: Mapping[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None


@dataclass
class TransitionResult:
    case: Any
    event: str
    source: str
    target: str
    version: int


def allowed_events(kind: str, case: Any) -> list[str]:
    """The events declared from the case's current state (guards are checked when sent)."""
    table = get_kind(kind).table
    return sorted(ev for ev, sources in table.items() if case.state in sources)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def apply_event(
    session: Session,
    *,
    kind: str,
    case_id: int,
    event: str,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
    payload: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    messages: Iterable[Message] = (),
    flow_run_id: str | None = None,
    commit: bool = True,
) -> TransitionResult:
    """Send ``event`` to one case. ``changes`` are other columns the same transition sets."""
    ck = get_kind(kind)
    payload = dict(payload or {})
    if event not in ck.table:
        raise UnknownEvent(kind, event, sorted(ck.table))
    try:
        case = _load_row(session, ck, case_id)
        if case is None:
            raise CaseNotFound(kind, case_id)
        if expected_version is not None and case.version != expected_version:
            raise StaleVersion(expected_version, case.version)
        source = case.state
        machine = ck.machine(case)
        try:
            machine.send(event, **payload)
        except TransitionNotAllowed:
            raise EventNotAllowed(event, source, allowed_events(kind, case)) from None
        except TransitionRejected as exc:
            raise Rejected(exc.reason) from None
        target = case.state
        for name, value in (changes or {}).items():
            setattr(case, name, value)
        case.version += 1
        if hasattr(case, "updated_at"):
            case.updated_at = now
        session.add(case)
        session.add(
            AuditEntry(
                case_kind=kind,
                case_id=case_id,
                version=case.version,
                event=event,
                source=source,
                target=target,
                actor=actor,
                at=now,
                payload=_jsonable(payload),
                flow_run_id=flow_run_id,
            )
        )
        for msg in messages:
            session.add(_outbox_row(msg, kind=kind, case_id=case_id, version=case.version, now=now))
        session.flush()
        if commit:
            session.commit()
    except IntegrityError:
        # another writer took this version between our read and our write (SQLite without FOR UPDATE)
        session.rollback()
        current = _current_version(session, ck, case_id)
        raise StaleVersion(expected_version if expected_version is not None else -1, current) from None
    except BaseException:
        session.rollback()
        raise
    return TransitionResult(case=case, event=event, source=source, target=target, version=case.version)


def _load_row(session: Session, ck: CaseKind, case_id: int) -> Any:
    stmt = select(ck.model).where(ck.model.id == case_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # two writers of one case serialise here
    return session.execute(stmt).scalars().first()


def _current_version(session: Session, ck: CaseKind, case_id: int) -> int:
    value = session.execute(select(ck.model.version).where(ck.model.id == case_id)).scalar()
    return int(value or 0)


def _outbox_row(msg: Message, *, kind: str, case_id: int | None, version: int, now: datetime) -> OutboxMessage:
    key = msg.dedupe_key or f"{kind}:{case_id}:v{version}:{msg.template}:{msg.recipient}"
    return OutboxMessage(
        dedupe_key=key,
        channel=msg.channel,
        template=msg.template,
        recipient=msg.recipient,
        context=_jsonable(dict(msg.context)),
        case_kind=kind,
        case_id=case_id,
        state="pending",
        next_try_at=now,
        created_at=now,
    )


@dataclass(frozen=True)
class BulkTransition:
    case_id: int
    source: str
    target: str
    version: int


def apply_bulk(
    session: Session,
    *,
    kind: str,
    event: str,
    case_ids: Sequence[int],
    actor: str,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
    set_values: Mapping[str, Any] | None = None,
    flow_run_id: str | None = None,
) -> list[BulkTransition]:
    """Apply a timed ``event`` to every case in ``case_ids`` whose state allows it; one audit row each.

    Does not commit: the caller commits each batch, so a batch is all or nothing. Cases whose state
    does not allow the event are left alone (a sweep re-selects them by state next time).
    """
    ck = get_kind(kind)
    if event not in ck.machine.timed_events:
        raise ValueError(f"{event!r} is not a timed event of {kind}; the bulk path applies timed events only")
    if not case_ids:
        return []
    table = ck.table[event]
    model = ck.model
    done: list[BulkTransition] = []
    values: dict[str, Any] = {"version": model.version + 1}
    if "updated_at" in model.model_fields:
        values["updated_at"] = now
    values.update(set_values or {})
    chained = {t for src, t in table.items() if t != src} & set(table)
    if chained:
        # a row moved into one source would be moved again by the next UPDATE of the same batch
        raise ValueError(f"{event!r} of {kind} chains through {sorted(chained)}: not appliable in bulk")
    body = _jsonable(dict(payload or {}))
    # which of the ids sit in which source state: one read, so that only the sources present are updated
    # (an event declared from ten states would otherwise cost ten UPDATEs over every id)
    by_source: dict[str, list[int]] = {}
    for case_id, state in session.execute(
        select(model.id, model.state).where(model.id.in_(list(case_ids)), model.state.in_(list(table)))
    ):
        by_source.setdefault(state, []).append(case_id)
    for source, ids in by_source.items():
        target = table[source]
        stmt = (
            update(model)
            .where(model.id.in_(ids), model.state == source)  # the state guard still decides, under concurrency
            .values(state=target, **values)
            .returning(model.id, model.version)
            .execution_options(synchronize_session=False)
        )
        moved = session.execute(stmt).all()
        if not moved:
            continue
        done.extend(BulkTransition(case_id, source, target, version) for case_id, version in moved)
        # one INSERT … SELECT per source, constants bound once: no Python work per audit row
        rows = select(
            literal(kind),
            model.id,
            model.version,
            literal(event),
            literal(source),
            literal(target),
            literal(actor),
            literal(now, UTCDateTime()),
            literal(body, JSON()),
            literal(flow_run_id, String()),
        ).where(model.id.in_([case_id for case_id, _ in moved]))
        session.execute(
            insert(AuditEntry).from_select(
                ["case_kind", "case_id", "version", "event", "source", "target", "actor", "at", "payload",
                 "flow_run_id"],
                rows,
            )
        )
    return done


def queue_message(session: Session, msg: Message, *, kind: str, case_id: int | None, now: datetime) -> None:
    """Add one outbox row to the caller's transaction (``msg.dedupe_key`` must be set)."""
    if msg.dedupe_key is None:
        raise ValueError("a message queued outside a transition needs an explicit dedupe_key")
    session.add(_outbox_row(msg, kind=kind, case_id=case_id, version=0, now=now))


def enqueue(
    session: Session, messages: Iterable[tuple[Message, str | None, int | None]], *, now: datetime
) -> int:
    """Write outbox rows for bulk transitions (case kind and id given with each); duplicates are skipped.

    Plain row dictionaries into one executemany INSERT: building a model object per message costs more
    than the whole sweep's SQL.
    """
    rows: list[dict[str, Any]] = []
    for msg, kind, case_id in messages:
        if msg.dedupe_key is None:
            raise ValueError("bulk messages need an explicit dedupe_key")
        rows.append({
            **_OUTBOX_DEFAULTS,
            "dedupe_key": msg.dedupe_key,
            "channel": msg.channel,
            "template": msg.template,
            "recipient": msg.recipient,
            "context": _jsonable(dict(msg.context)),
            "case_kind": kind or "",
            "case_id": case_id,
            "state": "pending",
            "next_try_at": now,
            "created_at": now,
        })
    if not rows:
        return 0
    keys = [r["dedupe_key"] for r in rows]
    existing = set(
        session.execute(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))).scalars()
    )
    fresh = list({r["dedupe_key"]: r for r in rows if r["dedupe_key"] not in existing}.values())
    if fresh:
        session.execute(insert(OutboxMessage.__table__), fresh)
    return len(fresh)


# the scalar defaults of the outbox model, for rows written without building a model object
_OUTBOX_DEFAULTS: dict[str, Any] = {
    name: info.default
    for name, info in OutboxMessage.model_fields.items()
    if name != "id" and info.default is not PydanticUndefined and not callable(info.default)
}


def enqueue_from(
    session: Session,
    *,
    kind: str,
    case_ids: Sequence[int],
    channel: str,
    template: str,
    recipient: Any,
    dedupe_key: Any,
    context: Mapping[str, Any],
    now: datetime,
) -> int:
    """One outbox row per case, built by the database from the case's own columns: ``INSERT … SELECT`` with
    ``ON CONFLICT (dedupe_key) DO NOTHING`` — the sweeps' path, no Python work per message.

    ``recipient``, ``dedupe_key`` and the ``context`` values are SQL expressions over the kind's table (or
    plain values, bound as literals); the context becomes a JSON object.
    """
    if not case_ids:
        return 0
    model = get_kind(kind).model
    dialect = session.get_bind().dialect.name

    def expr(value: Any) -> Any:
        return value if hasattr(value, "__clause_element__") or isinstance(value, ColumnElement) else literal(value)

    json_object = func.json_build_object if dialect == "postgresql" else func.json_object
    body = json_object(*[part for key, value in context.items() for part in (literal(key), expr(value))])
    rows = select(
        expr(dedupe_key), literal(channel), literal(template), expr(recipient), body, literal(kind), model.id,
        literal("pending"), literal(0), literal(now, UTCDateTime()), literal(now, UTCDateTime()),
    ).where(model.id.in_(list(case_ids)))
    insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert_fn(OutboxMessage.__table__).from_select(
        ["dedupe_key", "channel", "template", "recipient", "context", "case_kind", "case_id", "state", "attempts",
         "next_try_at", "created_at"],
        rows,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return int(session.execute(stmt).rowcount or 0)


def key_of(prefix: str, column: Any, suffix: str) -> Any:
    """``prefix || column || suffix`` in SQL (a dedupe key or a recipient built from a case's column)."""
    return literal(prefix).concat(cast(column, String)).concat(literal(suffix))
