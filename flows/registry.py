"""The flows of SPEC §5 that are built, by deployment name (``caseflow flows run NAME``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flows.callbacks import callback_dispatch_flow
from flows.care import customer_care_flow
from flows.claims import claims_revisit_intake_flow
from flows.complaints import complaint_sla_sweep_flow
from flows.intake import intake_new_contracts_flow
from flows.notifications import send_notifications_flow
from flows.reports import monthly_report_flow
from flows.sweep import revisit_sweep_flow

FLOWS: dict[str, Callable[..., Any]] = {
    "intake-new-contracts": intake_new_contracts_flow,
    "callback-dispatch": callback_dispatch_flow,
    "revisit-sweep": revisit_sweep_flow,
    "complaint-sla-sweep": complaint_sla_sweep_flow,
    "monthly-report": monthly_report_flow,
    "send-notifications": send_notifications_flow,
    "customer-care": customer_care_flow,
    "claims-revisit-intake": claims_revisit_intake_flow,
}
