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

# SQLite INTEGER and PostgreSQL BIGINT hold a signed 64-bit integer: a larger id or offset cannot even be bound as
# a query parameter (OverflowError, a 500), so it is bad input, refused with a 422 before any lookup
MAX_INT64 = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_INT64)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT64)]


def require_role(user: User, *roles: str) -> None:
    if user.role not in roles and user.role != "admin":
        raise Problem(403, "Forbidden", f"role {user.role} may not do this; needs one of: {', '.join(roles)}")


def actor(user: User) -> str:
    return f"user:{user.name}"
