"""Importing claims (SPEC §2.11, §4.1 ``POST /claims``): validate per record, upsert by claim number, audit.

The same contract as ``domain.policies.import_policies``: idempotent on ``claim_no`` (the same data
again writes nothing), a changed record updates the row, bumps ``Claim.version`` and appends an audit
entry with the diff (``case_kind="claim"``); within one batch records apply one after the other (the
later wins); invalid records are reported in ``rejected`` and change nothing, the valid ones land in
one transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from sqlalchemy import insert, select, update
from sqlmodel import Session

from domain.policies import CHUNK, ImportResult, _chunks, _errors, plan_upserts, read_record_file
from domain.policy_schemas import _In
from domain.revisit_rules import normalise_phone
from models import AuditEntry, Claim

CASE_KIND = "claim"
CLAIM_STATES = ("in_progress", "closed")


class ClaimantIn(_In):
    name: str = Field(min_length=1)
    phone: str | None = None


class ClaimIn(_In):
    """One claim as ``POST /claims`` and a drop-folder file give it (SPEC §4.1)."""

    claim_no: str = Field(min_length=1, max_length=40)
    policy_no: str = Field(min_length=1, max_length=40)
    claimant: ClaimantIn
    type: str = Field(min_length=1, max_length=32)
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    state: Literal["in_progress", "closed"]
    closed_date: date | None = None
    stage: str | None = Field(default=None, max_length=32)
    handler: str | None = None

    @model_validator(mode="after")
    def _closed_has_a_date(self) -> ClaimIn:
        # the revisit and the care touches count from the closing day: a closed claim without one is useless
        if self.state == "closed" and self.closed_date is None:
            raise ValueError("a closed claim needs its closed_date")
        if self.state == "in_progress" and self.closed_date is not None:
            raise ValueError("a claim in progress has no closed_date")
        return self


IMPORTED_COLUMNS: tuple[str, ...] = (
    "claim_no", "policy_no", "claimant_name", "claimant_phone", "claim_type", "amount", "state", "closed_date",
    "stage", "handler",
)  # fmt: skip


def claim_columns(c: ClaimIn) -> dict[str, Any]:
    return {
        "claim_no": c.claim_no,
        "policy_no": c.policy_no,
        "claimant_name": c.claimant.name,
        "claimant_phone": normalise_phone(c.claimant.phone) or None,
        "claim_type": c.type,
        "amount": c.amount.quantize(Decimal("0.01")),  # "12000" and "12000.00" are the same amount
        "state": c.state,
        "closed_date": c.closed_date,
        "stage": c.stage,
        "handler": c.handler,
    }


def claim_to_dict(claim: Claim) -> dict[str, Any]:
    """A stored claim in the §4.1 shape, plus ``id``, ``version`` and the import times."""
    iso = lambda d: d.isoformat() if d is not None else None  # noqa: E731
    return {
        "id": claim.id,
        "claim_no": claim.claim_no,
        "policy_no": claim.policy_no,
        "claimant": {"name": claim.claimant_name, "phone": claim.claimant_phone},
        "type": claim.claim_type,
        "amount": f"{Decimal(claim.amount):.2f}",
        "state": claim.state,
        "closed_date": iso(claim.closed_date),
        "stage": claim.stage,
        "handler": claim.handler,
        "version": claim.version,
        "imported_at": iso(claim.imported_at),
        "updated_at": iso(claim.updated_at),
    }


def validate_claims(records: list[Any], rejected: list[dict[str, Any]]) -> list[ClaimIn]:
    """The valid records, in order; each invalid one goes to ``rejected`` with its reasons."""
    valid: list[ClaimIn] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            errors = [{"field": "", "message": f"a claim must be a JSON object, not {type(record).__name__}"}]
            rejected.append({"index": index, "claim_no": None, "errors": errors})
            continue
        try:
            valid.append(ClaimIn.model_validate(record))
        except ValidationError as exc:
            no = record.get("claim_no")
            rejected.append({"index": index, "claim_no": no if isinstance(no, str) else None, "errors": _errors(exc)})
    return valid


def _load_claims(session: Session, numbers: list[str]) -> dict[str, dict[str, Any]]:
    cols = [Claim.id, Claim.version, *(getattr(Claim, c) for c in IMPORTED_COLUMNS)]
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(numbers):
        stmt = select(*cols).where(Claim.claim_no.in_(chunk))  # type: ignore[attr-defined]
        found.update((row["claim_no"], dict(row)) for row in session.execute(stmt).mappings())
    return found


def import_claims(*, session: Session, records: list[Any], actor: str, now: datetime) -> ImportResult:
    """Validate and upsert claims by ``claim_no`` in one transaction; see the module docstring."""
    result = ImportResult()
    valid = validate_claims(records, result.rejected)
    if not valid:
        return result
    numbers = list(dict.fromkeys(c.claim_no for c in valid))
    state = _load_claims(session, numbers)
    new, dirty, events = plan_upserts(state, ((c.claim_no, claim_columns(c)) for c in valid), "claim_no", result)

    ids = {no: state[no]["id"] for no in dirty}
    rows = [{**{c: state[no][c] for c in IMPORTED_COLUMNS}, "version": state[no]["version"],
             "imported_at": now, "updated_at": now} for no in numbers if no in new]  # fmt: skip
    for chunk in _chunks(rows):
        returned = session.execute(insert(Claim).returning(Claim.id, Claim.claim_no), chunk)
        ids.update({no: cid for cid, no in returned.tuples()})
    updates = [{**{c: state[no][c] for c in IMPORTED_COLUMNS}, "id": ids[no], "version": state[no]["version"],
                "updated_at": now} for no in numbers if no in dirty]  # fmt: skip
    for chunk in _chunks(updates):
        session.execute(update(Claim), chunk)
    audit = [
        {"case_kind": CASE_KIND, "case_id": ids[no], "version": version, "event": event, "source": "imported",
         "target": "imported", "actor": actor, "at": now, "payload": payload}
        for no, entries in events.items() for event, version, payload in entries
    ]  # fmt: skip
    for chunk in _chunks(audit):
        session.execute(insert(AuditEntry), chunk)
    session.commit()
    return result


def read_claim_file(path: str | Path) -> list[dict[str, Any]]:
    """The records of a claims drop-folder file: ``.json`` (list or object) or ``.csv`` (dotted headers,
    e.g. ``claimant.name``)."""
    return read_record_file(path, key="claim_no", plural="claims", singular="claim")


__all__ = ["ClaimIn", "CHUNK", "CLAIM_STATES", "claim_to_dict", "import_claims", "read_claim_file"]
