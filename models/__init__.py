"""Every table of Caseflow; importing this package registers them all on ``SQLModel.metadata``."""

from models.audit import AuditEntry, OutboxMessage
from models.calendar import CalendarDay, CalendarYear
from models.claim import CareTouch, Claim
from models.complaint import Complaint
from models.idempotency import IdempotencyRecord
from models.policy import Policy
from models.recording import RecordingAccessRequest
from models.quality import AgentMonth, MonthlyReport, Penalty, ProxySignatureFinding
from models.reference import ROLES, Agent, Branch, User
from models.revisit import CallAttempt, RevisitCase, WorkOrder

__all__ = [
    "AuditEntry",
    "OutboxMessage",
    "CalendarDay",
    "CalendarYear",
    "CareTouch",
    "Claim",
    "Complaint",
    "IdempotencyRecord",
    "Policy",
    "RecordingAccessRequest",
    "AgentMonth",
    "MonthlyReport",
    "Penalty",
    "ProxySignatureFinding",
    "ROLES",
    "Agent",
    "Branch",
    "User",
    "CallAttempt",
    "RevisitCase",
    "WorkOrder",
]
