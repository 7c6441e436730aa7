"""``Idempotency-Key`` on POSTs: the first answer is stored and replayed for a retry of the same request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.errors import Problem
from core import clock
from models import IdempotencyRecord, User


def idempotent(
    session: Session,
    *,
    user: User,
    key: str | None,
    method: str,
    path: str,
    body: Any,
    status_code: int,
    run: Callable[[], Any],
) -> JSONResponse:
    """Run ``run`` once per (user, key); a retry with the same body gets the stored answer."""
    if not key:
        return JSONResponse(jsonable_encoder(run()), status_code=status_code)
    digest = hashlib.sha256(json.dumps(jsonable_encoder(body), sort_keys=True).encode()).hexdigest()
    found = session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user.id, IdempotencyRecord.key == key)
    ).scalars().first()
    if found is not None:
        if found.request_hash != digest or found.path != path:
            raise Problem(422, "Idempotency key reused", "this Idempotency-Key was used for a different request")
        return JSONResponse(found.body, status_code=found.status_code, headers={"Idempotent-Replayed": "true"})
    session.rollback()
    answer = jsonable_encoder(run())
    try:
        session.add(
            IdempotencyRecord(
                user_id=user.id or 0, key=key, method=method, path=path, request_hash=digest,
                status_code=status_code, body=answer, created_at=clock.now(),
            )
        )
        session.commit()
    except IntegrityError:
        session.rollback()  # a concurrent retry stored it first: its answer is the same request's
    return JSONResponse(answer, status_code=status_code)
