"""Branches, agents and the users of the API."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.common import utc_field


class Branch(SQLModel, table=True):
    __tablename__ = "branch"

    code: str = Field(primary_key=True, max_length=32)
    name: str | None = None


class Agent(SQLModel, table=True):
    """A selling agent (业务员) with the chain the penalties of SPEC §2.10 reach."""

    __tablename__ = "agent"

    code: str = Field(primary_key=True, max_length=32)
    name: str
    phone: str | None = Field(default=None, index=True)
    branch_code: str = Field(index=True, max_length=32)
    supervisor_code: str | None = None
    manager_code: str | None = None
    active: bool = True


ROLES = ("call_agent", "branch_staff", "complaint_handler", "supervisor", "manager", "auditor", "admin")


class User(SQLModel, table=True):
    """A person using the API; the bearer token is stored only as its SHA-256."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    role: str = Field(max_length=32)
    branch_code: str | None = Field(default=None, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)
    active: bool = True
    created_at: datetime | None = utc_field()
