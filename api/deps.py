"""Request dependencies: the database session, the calling user, role checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Path, Query
from sqlmodel import Session

from api.errors import Problem
from core.db import get_engine
from core.users import user_for_token
from models import User


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()


SessionDep = Annotated[Session, Depends(get_session)]


def current_user(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> User:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "Unauthorized", "send 'Authorization: Bearer <token>' (caseflow users add prints one)")
    user = user_for_token(session=session, token=authorization.split(" ", 1)[1].strip())
    if user is None:
        raise Problem(401, "Unauthorized", "unknown or inactive token")
    return user


UserDep = Annotated[User, Depends(current_user)]

# A number the database cannot even bind is bad input, refused with a 422 before any lookup (it would be an
# OverflowError or NumericValueOutOfRange, a 500): row ids are INTEGER columns — 32-bit on PostgreSQL — and an
# OFFSET is a signed 64-bit integer on both databases
MAX_ROW_ID = 2**31 - 1
MAX_INT64 = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT64)]


def require_role(user: User, *roles: str) -> None:
    if user.role not in roles and user.role != "admin":
        raise Problem(403, "Forbidden", f"role {user.role} may not do this; needs one of: {', '.join(roles)}")


def actor(user: User) -> str:
    return f"user:{user.name}"
