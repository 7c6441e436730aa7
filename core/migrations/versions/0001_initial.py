"""Initial schema: every Caseflow table, generated against an empty database and reviewed.

Revision ID: 0001
Revises: -
Create Date: 2026-11-22 02:25:35.811773
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("supervisor_code", sa.String(), nullable=True),
        sa.Column("manager_code", sa.String(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(op.f("ix_agent_branch_code"), "agent", ["branch_code"], unique=False)
    op.create_index(op.f("ix_agent_phone"), "agent", ["phone"], unique=False)

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_app_user_name"), "app_user", ["name"], unique=True)

    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_kind", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", core.db.UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_kind", "case_id", "version", name="uq_audit_case_version"),
    )
    op.create_index("ix_audit_case", "audit_entry", ["case_kind", "case_id"], unique=False)
    op.create_index(op.f("ix_audit_entry_at"), "audit_entry", ["at"], unique=False)

    op.create_table(
        "branch",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )

    op.create_table(
        "calendar_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )

    op.create_table(
        "calendar_year",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )

    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),
    )

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("case_kind", sa.String(length=32), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", core.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_outbox_state_next", "outbox_message", ["state", "next_try_at"], unique=False)

    op.create_table(
        "policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_no", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("product_type", sa.String(length=32), nullable=False),
        sa.Column("line", sa.String(length=16), nullable=False),
        sa.Column("term_years", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("premium", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("payment_mode", sa.String(length=16), nullable=False),
        sa.Column("payment_years", sa.Integer(), nullable=True),
        sa.Column("cooling_off_days", sa.Integer(), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("print_date", sa.Date(), nullable=True),
        sa.Column("receipt_signed_date", sa.Date(), nullable=True),
        sa.Column("receipt_entered_date", sa.Date(), nullable=True),
        sa.Column("special_revisit", sa.Boolean(), nullable=False),
        sa.Column("holder_is_natural_person", sa.Boolean(), nullable=False),
        sa.Column("holder_name", sa.String(), nullable=False),
        sa.Column("holder_gender", sa.String(), nullable=True),
        sa.Column("holder_birth_date", sa.Date(), nullable=True),
        sa.Column("holder_id_number", sa.String(), nullable=True),
        sa.Column("holder_phone", sa.String(), nullable=True),
        sa.Column("holder_address", sa.String(), nullable=True),
        sa.Column("holder_opted_out", sa.Boolean(), nullable=False),
        sa.Column("insured_name", sa.String(), nullable=True),
        sa.Column("insured_gender", sa.String(), nullable=True),
        sa.Column("insured_birth_date", sa.Date(), nullable=True),
        sa.Column("insured_id_number", sa.String(), nullable=True),
        sa.Column("insured_phone", sa.String(), nullable=True),
        sa.Column("insured_address", sa.String(), nullable=True),
        sa.Column("agent_code", sa.String(length=32), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("imported_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("policy_no"),
    )
    op.create_index(op.f("ix_policy_agent_code"), "policy", ["agent_code"], unique=False)
    op.create_index(op.f("ix_policy_branch_code"), "policy", ["branch_code"], unique=False)
    op.create_index(op.f("ix_policy_holder_phone"), "policy", ["holder_phone"], unique=False)

    op.create_table(
        "revisit_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("policy_no", sa.String(length=40), nullable=False),
        sa.Column("claim_no", sa.String(length=40), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("agent_code", sa.String(length=32), nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=True),
        sa.Column("sub_types", sa.JSON(), nullable=False),
        sa.Column("problem_category", sa.String(), nullable=True),
        sa.Column("verification_reason", sa.String(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("failure_reasons", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("cooling_off_start", sa.Date(), nullable=True),
        sa.Column("cooling_off_end", sa.Date(), nullable=True),
        sa.Column("cooling_off_rule_version", sa.String(), nullable=True),
        sa.Column("special_revisit", sa.Boolean(), nullable=False),
        sa.Column("supplementary_needed", sa.Boolean(), nullable=False),
        sa.Column("surrender_as_cooling_off_until", sa.Date(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("attempts_today", sa.Integer(), nullable=False),
        sa.Column("attempts_day", sa.Date(), nullable=True),
        sa.Column("first_attempt_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("appointment_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("next_deadline_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("recall_count", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("claimed_until", core.db.UTCDateTime(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("closed_at", core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["policy_id"], ["policy.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "policy_id", "claim_no", name="uq_revisit_one_per_policy"),
    )
    op.create_index(op.f("ix_revisit_case_branch_code"), "revisit_case", ["branch_code"], unique=False)
    op.create_index(op.f("ix_revisit_case_policy_id"), "revisit_case", ["policy_id"], unique=False)
    op.create_index(op.f("ix_revisit_case_policy_no"), "revisit_case", ["policy_no"], unique=False)
    op.create_index("ix_revisit_state_attempt", "revisit_case", ["state", "next_attempt_at"], unique=False)
    op.create_index("ix_revisit_state_deadline", "revisit_case", ["state", "next_deadline_at"], unique=False)

    op.create_table(
        "call_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(), nullable=False),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("appointment_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["revisit_case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_call_attempt_case_id"), "call_attempt", ["case_id"], unique=False)

    op.create_table(
        "complaint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("complainant_name", sa.String(), nullable=False),
        sa.Column("complainant_phone", sa.String(), nullable=True),
        sa.Column("policy_no", sa.String(), nullable=True),
        sa.Column("content", sa.String(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("accused", sa.String(), nullable=True),
        sa.Column("revisit_case_id", sa.Integer(), nullable=True),
        sa.Column("agent_code", sa.String(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("pending_owner", sa.String(), nullable=True),
        sa.Column("received_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("ack_due_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("feedback_due_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("reply_due_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("next_deadline_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("extension_count", sa.Integer(), nullable=False),
        sa.Column("escalated_to", sa.String(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("closed_at", core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["revisit_case_id"], ["revisit_case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_complaint_policy_no"), "complaint", ["policy_no"], unique=False)
    op.create_index("ix_complaint_state_deadline", "complaint", ["state", "next_deadline_at"], unique=False)

    op.create_table(
        "work_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("branch_code", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("issued_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("due_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("second_communication", sa.Boolean(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("closed_at", core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["revisit_case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_work_order_branch_code"), "work_order", ["branch_code"], unique=False)
    op.create_index(op.f("ix_work_order_case_id"), "work_order", ["case_id"], unique=False)
    op.create_index("ix_work_order_state_due", "work_order", ["state", "due_at"], unique=False)


def downgrade() -> None:
    # dropping a table drops its indexes; children before parents
    op.drop_table("work_order")
    op.drop_table("complaint")
    op.drop_table("call_attempt")
    op.drop_table("revisit_case")
    op.drop_table("policy")
    op.drop_table("outbox_message")
    op.drop_table("idempotency_record")
    op.drop_table("calendar_year")
    op.drop_table("calendar_day")
    op.drop_table("branch")
    op.drop_table("audit_entry")
    op.drop_table("app_user")
    op.drop_table("agent")
