"""Importing policies (SPEC §2.1, §4.1): validate per record, upsert by policy number, audit changes.

``import_policies`` is idempotent on ``policy_no``: importing the same data again writes nothing;
changed data updates the row, bumps ``Policy.version`` and appends an audit entry with the diff
(``case_kind="policy"``). Agents (by code) and branches (by code) are upserted along the way.

A policy number that appears more than once in one batch is handled **as if the records had been
imported one after the other**: the later record wins, and the counts say what each record did (the
first is ``created`` or ``updated``, a later identical copy ``unchanged``, a later different one
``updated`` with its own audit entry). So splitting a file into batches never changes the outcome.

Everything valid in one call lands in one transaction, with one commit; invalid records are
reported in ``rejected`` and change nothing. Writes are set-based (chunked ``IN`` look-ups, bulk
``INSERT``/``UPDATE``) so that 100 000 records import in one run. Two imports racing on the same
policy collide on the audit entry's unique (case_kind, case_id, version) and the loser rolls back
with an ``IntegrityError`` — re-running it is safe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Integer, String, insert, literal, select, update
from sqlmodel import Session

from core.db import UTCDateTime
from domain.revisit_rules import normalise_phone
from domain.sqlsets import among, json_object
from domain.policy_schemas import PolicyIn
from models import Agent, AuditEntry, Branch, Policy

CHUNK = 1000  # IN-list and bulk-statement size: well under every database's parameter limit
CASE_KIND = "policy"

PERSON_FIELDS = ("name", "gender", "birth_date", "id_number", "phone", "address")
AGENT_FIELDS = ("name", "phone", "branch_code", "supervisor_code", "manager_code", "active")


@dataclass
class ImportResult:
    """What one import did: counts per outcome and the refused records with their reasons."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        counts = {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}
        return {**counts, "rejected": self.rejected}


# --- mapping between the §4.1 shape and the flat table ----------------------------------------------


def policy_columns(p: PolicyIn) -> dict[str, Any]:
    """The ``Policy`` columns an import sets, from one validated record."""
    cols: dict[str, Any] = {
        "policy_no": p.policy_no,
        "product_code": p.product_code,
        "product_type": p.product_type,
        "line": p.line,
        "term_years": p.term_years,
        "channel": p.channel,
        "premium": p.premium.quantize(Decimal("0.01")),  # "6000" and "6000.00" are the same premium
        "payment_mode": p.payment_mode,
        "payment_years": p.payment_years,
        "cooling_off_days": p.cooling_off_days,
        "issue_date": p.issue_date,
        "print_date": p.print_date,
        "receipt_signed_date": p.receipt_signed_date,
        "receipt_entered_date": p.receipt_entered_date,
        "special_revisit": p.special_revisit,
        "holder_is_natural_person": p.policyholder_is_natural_person,
        "agent_code": p.agent.code,
        "branch_code": p.agent.branch,  # a policy belongs to the branch of the agent who sold it
    }
    for f in PERSON_FIELDS:
        cols[f"holder_{f}"] = getattr(p.policyholder, f)
        cols[f"insured_{f}"] = getattr(p.insured, f) if p.insured is not None else None
    # one spelling per number, so that the shared-number check (SPEC §2.9) compares like with like
    for key in ("holder_phone", "insured_phone"):
        if cols[key]:
            cols[key] = normalise_phone(cols[key]) or None
    return cols


IMPORTED_COLUMNS: tuple[str, ...] = (
    "policy_no", "product_code", "product_type", "line", "term_years", "channel", "premium", "payment_mode",
    "payment_years", "cooling_off_days", "issue_date", "print_date", "receipt_signed_date",
    "receipt_entered_date", "special_revisit", "holder_is_natural_person", "agent_code", "branch_code",
    *(f"holder_{f}" for f in PERSON_FIELDS), *(f"insured_{f}" for f in PERSON_FIELDS),
)  # fmt: skip


def _person(policy: Policy, prefix: str) -> dict[str, Any] | None:
    values = {f: getattr(policy, f"{prefix}_{f}") for f in PERSON_FIELDS}
    if values["birth_date"] is not None:
        values["birth_date"] = values["birth_date"].isoformat()
    return values if values["name"] is not None else None


def policy_to_dict(policy: Policy, agent: Agent | None = None) -> dict[str, Any]:
    """A stored policy in the §4.1 nested shape, plus ``id``, ``version`` and the import times."""
    iso = lambda d: d.isoformat() if d is not None else None  # noqa: E731
    return {
        "id": policy.id,
        "policy_no": policy.policy_no,
        "product_code": policy.product_code,
        "product_type": policy.product_type,
        "line": policy.line,
        "term_years": policy.term_years,
        "channel": policy.channel,
        "premium": f"{Decimal(policy.premium):.2f}",  # a string, as clients send it: no float rounding
        "payment_mode": policy.payment_mode,
        "payment_years": policy.payment_years,
        "cooling_off_days": policy.cooling_off_days,
        "issue_date": iso(policy.issue_date),
        "print_date": iso(policy.print_date),
        "receipt_signed_date": iso(policy.receipt_signed_date),
        "receipt_entered_date": iso(policy.receipt_entered_date),
        "special_revisit": policy.special_revisit,
        "policyholder_is_natural_person": policy.holder_is_natural_person,
        "policyholder": _person(policy, "holder"),
        "insured": _person(policy, "insured"),
        "agent": {
            "code": policy.agent_code,
            "name": agent.name if agent else None,
            "phone": agent.phone if agent else None,
            "branch": policy.branch_code,
            "supervisor_code": agent.supervisor_code if agent else None,
            "manager_code": agent.manager_code if agent else None,
            "active": agent.active if agent else None,
        },
        "branch": policy.branch_code,
        "version": policy.version,
        "imported_at": iso(policy.imported_at),
        "updated_at": iso(policy.updated_at),
    }


# --- validation --------------------------------------------------------------------------------------


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as ``{"field": "policyholder.phone", "message": "…"}``."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def validate_records(records: list[Any], rejected: list[dict[str, Any]]) -> list[PolicyIn]:
    """The valid records, in order; each invalid one is appended to ``rejected`` with its reasons."""
    valid: list[PolicyIn] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            errors = [{"field": "", "message": f"a policy must be a JSON object, not {type(record).__name__}"}]
            rejected.append({"index": index, "policy_no": None, "errors": errors})
            continue
        try:
            valid.append(PolicyIn.model_validate(record))
        except ValidationError as exc:
            no = record.get("policy_no")
            rejected.append({"index": index, "policy_no": no if isinstance(no, str) else None, "errors": _errors(exc)})
    return valid


# --- writing -----------------------------------------------------------------------------------------


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def plan_upserts(
    state: dict[str, dict[str, Any]], items: Iterable[tuple[str, dict[str, Any]]], key: str, result: ImportResult
) -> tuple[set[str], set[str], dict[str, list[tuple[str, int, dict[str, Any]]]]]:
    """Fold imported records into ``state`` (number → stored columns, updated in place): which numbers are new,
    which stored ones changed, and the audit events of each (``imported`` / ``reimported`` with what changed).
    A number repeated in one batch is applied in order; counts go to ``result``."""
    new: set[str] = set()
    dirty: set[str] = set()
    events: dict[str, list[tuple[str, int, dict[str, Any]]]] = {}
    for no, cols in items:
        current = state.get(no)
        if current is None:
            state[no] = {**cols, "version": 1}
            new.add(no)
            events[no] = [("imported", 1, {key: no})]
            result.created += 1
            continue
        changed = {k: [_jsonable(current[k]), _jsonable(v)] for k, v in cols.items() if current[k] != v}
        if not changed:
            result.unchanged += 1
            continue
        current.update(cols)
        current["version"] += 1
        if no not in new:
            dirty.add(no)
        events.setdefault(no, []).append(("reimported", current["version"], {"changed": changed}))
        result.updated += 1
    return new, dirty, events


def _upsert_branches(session: Session, codes: Iterable[str]) -> None:
    """Add the branches not known yet (by code); their names come from elsewhere."""
    wanted = sorted(set(codes))
    known: set[str] = set()
    for chunk in _chunks(wanted):
        stmt = select(Branch.code).where(Branch.code.in_(chunk))  # type: ignore[attr-defined]
        known.update(session.execute(stmt).scalars())
    new = [{"code": c, "name": None} for c in wanted if c not in known]
    for chunk in _chunks(new):
        session.execute(insert(Branch), chunk)


def _upsert_agents(session: Session, valid: list[PolicyIn]) -> None:
    """Insert new agents, update the changed ones; within a batch the last record wins."""
    latest: dict[str, dict[str, Any]] = {}
    for p in valid:
        a = p.agent
        latest[a.code] = {
            "code": a.code,
            "name": a.name,
            "phone": a.phone,
            "branch_code": a.branch,
            "supervisor_code": a.supervisor_code,
            "manager_code": a.manager_code,
            "active": a.active,
        }
    codes = list(latest)
    existing: dict[str, dict[str, Any]] = {}
    cols = [Agent.code, *(getattr(Agent, f) for f in AGENT_FIELDS)]
    for chunk in _chunks(codes):
        stmt = select(*cols).where(Agent.code.in_(chunk))  # type: ignore[attr-defined]
        existing.update((row["code"], dict(row)) for row in session.execute(stmt).mappings())
    new = [v for c, v in latest.items() if c not in existing]
    changed = [v for c, v in latest.items() if c in existing and any(existing[c][f] != v[f] for f in AGENT_FIELDS)]
    for chunk in _chunks(new):
        session.execute(insert(Agent), chunk)
    for chunk in _chunks(changed):
        session.execute(update(Agent), chunk)  # ORM bulk UPDATE by primary key (code)


def _load_policies(session: Session, numbers: list[str]) -> dict[str, dict[str, Any]]:
    """The stored imported columns, id and version of the given policy numbers."""
    cols = [Policy.id, Policy.version, *(getattr(Policy, c) for c in IMPORTED_COLUMNS)]
    dialect = session.get_bind().dialect.name
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(numbers):
        stmt = among(select(*cols), Policy.policy_no, chunk, dialect, String)
        found.update((row["policy_no"], dict(row)) for row in session.execute(stmt).mappings())
    return found


def _ids_of(session: Session, numbers: list[str]) -> dict[str, int]:
    dialect = session.get_bind().dialect.name
    stmt = among(select(Policy.policy_no, Policy.id), Policy.policy_no, numbers, dialect, String)
    return {no: pid for no, pid in session.execute(stmt).tuples()}


def import_policies(*, session: Session, records: list[Any], actor: str, now: datetime) -> ImportResult:
    """Validate and upsert policies by ``policy_no`` in one transaction; see the module docstring."""
    result = ImportResult()
    valid = validate_records(records, result.rejected)
    if not valid:
        return result

    _upsert_branches(session, (p.agent.branch for p in valid))
    _upsert_agents(session, valid)

    numbers = list(dict.fromkeys(p.policy_no for p in valid))
    state = _load_policies(session, numbers)  # policy_no -> current columns (stored, then as imported)
    new, dirty, events = plan_upserts(state, ((p.policy_no, policy_columns(p)) for p in valid), "policy_no", result)

    ids = {no: state[no]["id"] for no in dirty}
    rows = [{**{c: state[no][c] for c in IMPORTED_COLUMNS}, "version": state[no]["version"],
             "imported_at": now, "updated_at": now} for no in numbers if no in new]  # fmt: skip
    for chunk in _chunks(rows):
        # executemany without RETURNING (one prepared statement), then the ids by number: with RETURNING,
        # SQLAlchemy sends a multi-VALUES text of 30 000 placeholders that psycopg parses slower than it writes
        session.execute(insert(Policy.__table__), chunk)
        ids.update(_ids_of(session, [r["policy_no"] for r in chunk]))

    updates = [{**{c: state[no][c] for c in IMPORTED_COLUMNS}, "id": ids[no], "version": state[no]["version"],
                "updated_at": now} for no in numbers if no in dirty]  # fmt: skip
    for chunk in _chunks(updates):
        session.execute(update(Policy), chunk)  # ORM bulk UPDATE by primary key

    # a new policy's first audit row ("imported", version 1) by INSERT … SELECT, constants bound once;
    # the rest (re-imports with their diffs, few) row by row
    first = [ids[no] for no in numbers if no in new]
    for chunk in _chunks(first):
        _imported_audit(session, chunk, actor, now)
    audit = [
        {"case_kind": CASE_KIND, "case_id": ids[no], "version": version, "event": event, "source": "imported",
         "target": "imported", "actor": actor, "at": now, "payload": payload}
        for no, entries in events.items() for event, version, payload in entries
        if not (no in new and version == 1)
    ]  # fmt: skip
    for chunk in _chunks(audit):
        session.execute(insert(AuditEntry.__table__), chunk)
    session.commit()
    return result


def _imported_audit(session: Session, policy_ids: list[int], actor: str, now: datetime) -> None:
    dialect = session.get_bind().dialect.name
    t = Policy.__table__
    rows = select(
        literal(CASE_KIND), t.c.id, literal(1), literal("imported"), literal("imported"), literal("imported"),
        literal(actor), literal(now, UTCDateTime()), json_object(dialect, literal("policy_no"), t.c.policy_no),
    )  # fmt: skip
    session.execute(
        insert(AuditEntry.__table__).from_select(
            ["case_kind", "case_id", "version", "event", "source", "target", "actor", "at", "payload"],
            among(rows, t.c.id, policy_ids, dialect, Integer),
        )
    )


# --- the drop folder ---------------------------------------------------------------------------------


def _decode(raw: bytes, name: str) -> str:
    # files exported by Excel on Chinese Windows are GB18030/GBK, everything else UTF-8 (maybe with BOM)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            raise ValueError(f"{name}: neither UTF-8 nor GB18030 text") from None


def _nest(row: dict[str, str]) -> dict[str, Any]:
    """A flat CSV row with dotted headers (``policyholder.phone``) in the nested §4.1 shape."""
    record: dict[str, Any] = {}
    for header, value in row.items():
        if header is None or value is None or not value.strip():
            continue  # a blank cell is "not given", as in JSON; extra cells without a header are dropped
        key = header.strip()
        if "." in key:
            outer, inner = key.split(".", 1)
            nested = record.get(outer)
            if not isinstance(nested, dict):  # a stray flat "agent" column must not hide agent.code
                nested = record[outer] = {}
            nested[inner] = value
        elif not isinstance(record.get(key), dict):
            record[key] = value
    return record


def read_policy_file(path: str | Path) -> list[dict[str, Any]]:
    """The records of a drop-folder file: ``.json`` (a list or one object) or ``.csv`` (dotted headers)."""
    return read_record_file(path, key="policy_no", plural="policies", singular="policy")


def read_record_file(path: str | Path, *, key: str, plural: str, singular: str) -> list[dict[str, Any]]:
    """A drop-folder file of records keyed by ``key``: ``.json`` (a list or one object) or ``.csv`` (dotted
    headers, e.g. ``policyholder.name``); a ValueError naming the file when it cannot be read."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    text = _decode(raw, path.name)
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name}: not valid JSON: {exc}") from None
        if isinstance(data, dict):
            return [data]
        if isinstance(data, list):
            return data
        raise ValueError(f"{path.name}: expected a JSON list of {plural} or one {singular} object")
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            rows = list(reader)
        except csv.Error as exc:
            raise ValueError(f"{path.name}: not valid CSV: {exc}") from None
        if not reader.fieldnames or key not in [h.strip() for h in reader.fieldnames]:
            raise ValueError(f"{path.name}: CSV needs a header row with {key} and the other §4.1 fields")
        return [rec for rec in (_nest(r) for r in rows) if rec]
    raise ValueError(f"{path.name}: unsupported file type {suffix or '(none)'}; expected .json or .csv")
