"""The flows of SPEC §5 that are built, by deployment name (``caseflow flows run NAME``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flows.callbacks import callback_dispatch_flow
from flows.claims import claims_revisit_intake_flow
from flows.intake import intake_new_contracts_flow

FLOWS: dict[str, Callable[..., Any]] = {
    "intake-new-contracts": intake_new_contracts_flow,
    "callback-dispatch": callback_dispatch_flow,
    "claims-revisit-intake": claims_revisit_intake_flow,
}
