"""API users and their bearer tokens (stored only as a SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from models import ROLES, User

BRANCH_ROLES = ("branch_staff",)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(*, session: Session, name: str, role: str, branch: str | None, now: datetime) -> tuple[User, str]:
    """Create a user and return it with its new token (shown once, never stored in clear)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role in BRANCH_ROLES and not branch:
        raise ValueError(f"role {role} needs --branch")
    if not name.strip():
        raise ValueError("a user needs a name")
    if session.execute(select(User).where(User.name == name)).scalars().first():
        raise ValueError(f"user {name!r} exists already")
    token = "cf_" + secrets.token_urlsafe(32)
    user = User(name=name, role=role, branch_code=branch, token_hash=hash_token(token), created_at=now)
    session.add(user)
    session.commit()
    return user, token


def user_for_token(*, session: Session, token: str) -> User | None:
    stmt = select(User).where(User.token_hash == hash_token(token), User.active.is_(True))  # type: ignore[attr-defined]
    return session.execute(stmt).scalars().first()
