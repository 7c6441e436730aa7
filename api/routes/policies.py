"""Policy import and look-up (SPEC §4, §4.1): ``POST /policies``, ``GET /policies/{policy_no}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.deps import SessionDep, UserDep, actor, require_role
from api.errors import PROBLEM, Problem
from core import clock
from domain.policies import import_policies, policy_to_dict
from models import Agent, Policy, User

router = APIRouter(tags=["policies"])

IMPORT_ROLES = ("admin", "supervisor", "manager")
FULL_VIEW_ROLES = ("admin", "supervisor", "manager")  # plus branch staff of the policy's branch
PROBLEM_RESPONSE = {"content": {PROBLEM: {}}, "description": "problem+json (RFC 9457)"}


def importer(user: UserDep) -> User:
    """The caller, if their role may import policies (checked before the body is read)."""
    require_role(user, *IMPORT_ROLES)
    return user


def mask_phone(value: str | None) -> str | None:
    """``13800000001`` → ``138****0001``: the carrier prefix and last four stay recognisable."""
    if not value:
        return value
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_id(value: str | None) -> str | None:
    """``310101198003020021`` → ``3101**********0021``: region and check digits only."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def masked(body: dict[str, Any]) -> dict[str, Any]:
    """The policy with every phone and ID number masked (for roles that do not need them)."""
    out = dict(body)
    for key in ("policyholder", "insured"):
        if out.get(key):
            out[key] = {**out[key], "phone": mask_phone(out[key]["phone"]), "id_number": mask_id(out[key]["id_number"])}
    out["agent"] = {**out["agent"], "phone": mask_phone(out["agent"]["phone"])}
    return out


def _summary(rejected: list[dict[str, Any]], key: str, limit: int = 3) -> str:
    parts = []
    for rec in rejected[:limit]:
        reasons = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in rec["errors"])
        parts.append(f"record {rec['index']}" + (f" ({rec[key]})" if rec[key] else "") + f": {reasons}")
    more = f" … and {len(rejected) - limit} more" if len(rejected) > limit else ""
    return " | ".join(parts) + more


def run_import(
    session: Any, user: User, body: list[dict[str, Any]] | dict[str, Any], *, import_records: Any, key: str,
    singular: str, plural: str,
) -> dict[str, Any]:
    """One record or a list, idempotent on ``key``; invalid records are reported, not fatal — unless every
    record is invalid: then nothing was written, a client error (422), not a partial success."""
    records: list[Any] = body if isinstance(body, list) else [body]
    if not records:
        raise Problem(422, "Invalid request", f"send at least one {singular}", kind="invalid-request", errors=[])
    try:
        result = import_records(session=session, records=records, actor=actor(user), now=clock.now())
    except IntegrityError:
        # a concurrent import of the same records won the race; ours rolled back whole, so a retry is safe
        session.rollback()
        raise Problem(409, "Conflict", f"the same {plural} were being imported concurrently; send again") from None
    if result.created + result.updated + result.unchanged == 0:
        errors = [
            {"field": f"{rec['index']}.{e['field']}" if e["field"] else str(rec["index"]), "message": e["message"]}
            for rec in result.rejected
            for e in rec["errors"]
        ]
        raise Problem(
            422, f"Invalid {plural}", f"no record is valid, nothing was imported: {_summary(result.rejected, key)}",
            kind=f"invalid-{plural}", errors=errors, rejected=result.rejected,
        )
    return result.as_dict()


@router.post(
    "/policies",
    status_code=201,
    responses={401: PROBLEM_RESPONSE, 403: PROBLEM_RESPONSE, 409: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)
def post_policies(
    session: SessionDep,
    user: Annotated[User, Depends(importer)],
    body: Annotated[list[dict[str, Any]] | dict[str, Any], Body()],
) -> dict[str, Any]:
    """Import one policy or a list, idempotent on ``policy_no``; invalid records are reported, not fatal."""
    return run_import(session, user, body, import_records=import_policies, key="policy_no", singular="policy",
                      plural="policies")


@router.get("/policies/{policy_no}", responses={401: PROBLEM_RESPONSE, 403: PROBLEM_RESPONSE, 404: PROBLEM_RESPONSE})
def get_policy(policy_no: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """One policy in the §4.1 shape; phone and ID numbers masked unless the role needs them."""
    policy = session.execute(select(Policy).where(Policy.policy_no == policy_no)).scalars().first()
    if policy is None:
        raise Problem(404, "Not found", f"policy {policy_no} does not exist")
    own_branch = user.role == "branch_staff" and user.branch_code == policy.branch_code
    if user.role == "branch_staff" and not own_branch:
        raise Problem(403, "Forbidden", f"policy {policy_no} belongs to another branch")  # SPEC §4
    body = policy_to_dict(policy, session.get(Agent, policy.agent_code))
    return body if user.role in FULL_VIEW_ROLES or own_branch else masked(body)
