"""Claims (SPEC §2.11, §4.1): ``POST /claims``, ``GET /claims/{claim_no}``, and recording a care touch."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.context import request_ctx
from api.deps import RowId, SessionDep, UserDep, require_role
from api.errors import Problem
from api.idempotency import idempotent
from api.routes.policies import PROBLEM_RESPONSE, importer, mask_phone, run_import
from api.views import can_see_branch, care_touch_view, revisit_view
from domain.claim_care import record_touch
from domain.claim_import import claim_to_dict, import_claims
from models import Claim, Policy, RevisitCase, User

router = APIRouter(tags=["claims"])

FULL_VIEW_ROLES = ("admin", "supervisor", "manager", "call_agent")
TOUCH_ROLES = ("call_agent", "supervisor", "manager")


@router.post(
    "/claims",
    status_code=201,
    responses={401: PROBLEM_RESPONSE, 403: PROBLEM_RESPONSE, 409: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)
def post_claims(
    session: SessionDep,
    user: Annotated[User, Depends(importer)],
    body: Annotated[list[dict[str, Any]] | dict[str, Any], Body()],
) -> dict[str, Any]:
    """Import one claim or a list, idempotent on ``claim_no``; invalid records are reported, not fatal."""
    return run_import(session, user, body, import_records=import_claims, key="claim_no", singular="claim",
                      plural="claims")


@router.get("/claims/{claim_no}", responses={401: PROBLEM_RESPONSE, 404: PROBLEM_RESPONSE})
def get_claim(claim_no: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """One claim in the §4.1 shape, with its revisit's id; the claimant's phone masked unless needed."""
    claim = session.execute(select(Claim).where(Claim.claim_no == claim_no)).scalars().first()
    if claim is None:
        raise Problem(404, "Not found", f"claim {claim_no} does not exist")
    revisit = session.execute(
        select(RevisitCase).where(RevisitCase.kind == "claim", RevisitCase.claim_no == claim_no)
    ).scalars().first()
    policy = session.execute(select(Policy).where(Policy.policy_no == claim.policy_no)).scalars().first()
    # a claim belongs to its policy's branch; one on a policy not on file is HQ's alone
    if user.role == "branch_staff" and (policy is None or not can_see_branch(user, policy.branch_code)):
        raise Problem(403, "Forbidden", f"claim {claim_no} belongs to another branch")
    body = claim_to_dict(claim)
    body["revisit_id"] = revisit.id if revisit is not None else None
    if user.role not in FULL_VIEW_ROLES:
        body["claimant"] = {**body["claimant"], "phone": mask_phone(body["claimant"]["phone"])}
    return body


class TouchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["done", "missed"]
    channel: Literal["phone", "sms"]
    result: str | None = None
    satisfaction: int | None = Field(default=None, description="1–5 (5 = very satisfied)")
    problem: str | None = Field(default=None, description="a problem the customer raised: starts the 24 h / 48 h clocks")
    expected_version: int = Field(description="the touch's own version (care_touches[].version)")


@router.post("/revisits/{case_id}/care-touches/{kind}")
def post_care_touch(
    case_id: RowId,
    kind: str,
    body: TouchIn,
    request: Request,
    session: SessionDep,
    user: UserDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Record a care touch of a claim revisit (day0 / week1 / month1); answers the claim revisit."""
    require_role(user, *TOUCH_ROLES)
    case = session.get(RevisitCase, case_id)
    if case is None or case.kind != "claim":
        raise Problem(404, "Not found", f"claim revisit {case_id} does not exist")

    def run() -> dict[str, Any]:
        touch = record_touch(
            session, case_id=case_id, kind=kind, outcome=body.outcome, channel=body.channel, result=body.result,
            satisfaction=body.satisfaction, problem=body.problem, expected_version=body.expected_version,
            ctx=request_ctx(session, user),
        )  # fmt: skip
        fresh = session.get(RevisitCase, case_id, populate_existing=True)
        assert fresh is not None
        return {**revisit_view(session, fresh), "touch": care_touch_view(touch)}

    return idempotent(
        session, user=user, key=idempotency_key, method="POST", path=request.url.path,
        body=body.model_dump(mode="json"), status_code=200, run=run,
    )
