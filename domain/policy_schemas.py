"""The body of ``POST /policies`` and of a drop-folder file, one policy (SPEC §2.1, §4.1).

Field names are the contract. Unknown fields are ignored (clients may send more). Blank optional
strings are read as "not given" (``None``), so an empty phone is *absent*, whatever the source.
Phone numbers are only required to be strings: a malformed phone is not bad data to refuse but an
intake finding that routes the case to verification (SPEC §2.9).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

Text = Annotated[str, Field(min_length=1)]
Code = Annotated[str, Field(min_length=1, max_length=32)]  # agent/branch codes: the column width
OptionalText = str | None


class _In(BaseModel):
    # strings must be strings (no int → str coercion); surrounding blanks are noise from files
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        """An empty optional value (a blank CSV cell, a cleared form field) means "not given"."""
        if not isinstance(data, dict):
            return data
        optional = _optional_fields(cls)
        # a blank *required* string stays, so that its error says "too short", not "missing"
        blank = [k for k, v in data.items() if k in optional and isinstance(v, str) and not v.strip()]
        return {k: v for k, v in data.items() if k not in blank} if blank else data

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """Refuse NUL characters: PostgreSQL cannot store them, so they would fail the whole batch."""
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("nul_character", "must not contain NUL characters")
        return value


@cache
def _optional_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, f in model.model_fields.items() if not f.is_required())


class PersonIn(_In):
    """A policyholder or insured person."""

    name: Text
    gender: Literal["F", "M"] | None = None
    birth_date: date | None = None
    id_number: OptionalText = None
    phone: OptionalText = None
    address: OptionalText = None


class AgentIn(_In):
    """The selling agent (业务员) and the chain above them (SPEC §2.10)."""

    code: Code
    name: Text
    phone: OptionalText = None
    branch: Code
    supervisor_code: OptionalText = None
    manager_code: OptionalText = None
    active: bool = True


class PolicyIn(_In):
    """One policy as imported; the order of the dates matters to the validators below."""

    policy_no: Annotated[str, Field(min_length=1, max_length=40)]
    product_code: Annotated[str, Field(min_length=1, max_length=40)]
    product_type: Literal["traditional", "participating", "universal", "investment_linked"]
    line: Literal["life", "health", "accident"]
    term_years: Annotated[int, Field(ge=1, le=150)]  # the upper bound only keeps it a database integer
    channel: Literal["agency", "bancassurance", "telesales", "online"]
    premium: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]  # Numeric(14, 2)
    payment_mode: Literal["single", "annual", "semiannual", "quarterly", "monthly"]
    payment_years: Annotated[int, Field(ge=1, le=150)] | None = None
    # only a sanity range here; the regulatory floor (≥ 10) depends on the rule version, so intake applies it
    cooling_off_days: Annotated[int, Field(ge=1, le=60)] | None = None
    issue_date: date
    print_date: date | None = None
    receipt_signed_date: date | None = None
    receipt_entered_date: date | None = None
    special_revisit: bool = False
    policyholder_is_natural_person: bool = True
    policyholder: PersonIn
    insured: PersonIn | None = None
    agent: AgentIn

    @field_validator("receipt_signed_date")
    @classmethod
    def _signed_after_issue(cls, value: date | None, info: ValidationInfo) -> date | None:
        issued = info.data.get("issue_date")
        if value is not None and issued is not None and value < issued:
            raise PydanticCustomError(
                "date_order",
                "receipt_signed_date {signed} is before issue_date {issued}",
                {"signed": value.isoformat(), "issued": issued.isoformat()},
            )
        return value

    @field_validator("receipt_entered_date")
    @classmethod
    def _entered_after_signed(cls, value: date | None, info: ValidationInfo) -> date | None:
        signed = info.data.get("receipt_signed_date")
        if value is not None and signed is not None and value < signed:
            raise PydanticCustomError(
                "date_order",
                "receipt_entered_date {entered} is before receipt_signed_date {signed}",
                {"entered": value.isoformat(), "signed": signed.isoformat()},
            )
        return value
