"""The claim revisit questionnaire (理赔回访问卷, SPEC §2.11) and its classification — pure, no I/O.

Items, in the order they are asked:

* ``identity`` — speaking with the claimant in person? (``yes`` / ``corrected`` / ``no``);
* ``service_satisfaction`` — satisfaction with the claim service, ``1``…``5`` (5 = very satisfied);
* ``liability_clear`` — were the liability decision and the loss assessment (责任认定与理算结果)
  explained clearly? (``yes`` / ``corrected`` / ``no``);
* ``staff_attitude`` — the claim staff's attitude (``good`` / ``average`` / ``poor``);
* problems and suggestions — free text in ``details["problem"]`` / ``details["suggestion"]``.

Classes, as for new contracts (SPEC §2.6), in this order:

1. Call not completed: the same outcomes and reasons as ``domain.classification`` (verification for a
   wrong number, refusal or language barrier; a retry for no answer, busy, appointment, not the claimant).
2. Connected: ``identity: no`` → not the claimant (retry); ``details["data_mismatch"]`` → verification;
   every item must be answered (``IncompleteAnswers``).
3. **problem** ``claim_dissatisfied`` (理赔服务不满): a problem raised, satisfaction at or below
   ``claim_satisfaction_problem_at_most``, or a ``poor`` attitude; else **problem**
   ``claim_explanation_needed`` (理赔解释类): ``liability_clear: no``.
4. **substandard** (次标准件): ``liability_clear: corrected`` (sub-type ``claim_liability_unclear``),
   satisfaction at or below ``claim_satisfaction_substandard_at_most`` or an ``average`` attitude
   (sub-type ``claim_service_average``).
5. Otherwise **standard**. A suggestion alone changes no class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.classification import (
    CONNECTED,
    NOT_POLICYHOLDER,
    OUTCOMES,
    PROBLEM,
    REASON_DATA_MISMATCH,
    RETRY_OUTCOMES,
    STANDARD,
    SUBSTANDARD,
    VERIFICATION,
    VERIFICATION_OUTCOMES,
    Classification,
    IncompleteAnswers,
)

IDENTITY = "identity"
SERVICE_SATISFACTION = "service_satisfaction"
LIABILITY_CLEAR = "liability_clear"
STAFF_ATTITUDE = "staff_attitude"
ITEMS: tuple[str, ...] = (IDENTITY, SERVICE_SATISFACTION, LIABILITY_CLEAR, STAFF_ATTITUDE)

QUESTIONS_ZH: dict[str, str] = {
    IDENTITY: "您好,请问您是理赔申请人本人吗?",
    SERVICE_SATISFACTION: "您对本次理赔服务的满意程度如何?(1-5分,5分为非常满意)",
    LIABILITY_CLEAR: "理赔人员是否向您清楚说明了保险责任认定和理算结果?",
    STAFF_ATTITUDE: "您觉得理赔工作人员的服务态度如何?",
}

YES_ANSWERS: tuple[str, ...] = ("yes", "corrected", "no")
ATTITUDES: tuple[str, ...] = ("good", "average", "poor")
SATISFACTION_SCALE: tuple[int, ...] = (1, 2, 3, 4, 5)

CLAIM_DISSATISFIED = "claim_dissatisfied"  # 理赔服务不满
CLAIM_EXPLANATION_NEEDED = "claim_explanation_needed"  # 理赔解释类
CLAIM_LIABILITY_UNCLEAR = "claim_liability_unclear"
CLAIM_SERVICE_AVERAGE = "claim_service_average"
DETAIL_KEYS: tuple[str, ...] = ("problem", "suggestion", "data_mismatch", "note")


def satisfaction(value: Any) -> int:
    """A 1–5 score from ``4`` or ``"4"``; anything else is refused."""
    if isinstance(value, bool):
        raise ValueError(f"satisfaction must be one of 1–5, not {value!r}")
    try:
        score = int(value) if isinstance(value, (int, str)) else None
    except ValueError:
        score = None
    if score not in SATISFACTION_SCALE or (isinstance(value, str) and value.strip() != str(score)):
        raise ValueError(f"satisfaction must be one of 1–5, not {value!r}")
    return score


def _validate(answers: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(answers, Mapping):
        raise ValueError(f"answers must be a mapping of item key to answer, not {type(answers).__name__}")
    clean: dict[str, Any] = {}
    for key, value in answers.items():
        if key == SERVICE_SATISFACTION:
            clean[key] = satisfaction(value)
        elif key in (IDENTITY, LIABILITY_CLEAR):
            if value not in YES_ANSWERS:
                raise ValueError(f"invalid answer {value!r} for item {key!r}; expected one of {', '.join(YES_ANSWERS)}")
            clean[key] = value
        elif key == STAFF_ATTITUDE:
            if value not in ATTITUDES:
                raise ValueError(f"invalid answer {value!r} for item {key!r}; expected one of {', '.join(ATTITUDES)}")
            clean[key] = value
        else:
            raise ValueError(f"unknown claim questionnaire item {key!r}; expected one of {', '.join(ITEMS)}")
    return clean


def _details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise ValueError(f"details must be a mapping, not {type(details).__name__}")
    for key, value in details.items():
        if key not in DETAIL_KEYS:
            raise ValueError(f"unknown detail {key!r}; expected one of {', '.join(DETAIL_KEYS)}")
        if key == "data_mismatch" and not isinstance(value, bool):
            raise ValueError(f"details['data_mismatch'] must be true or false, not {value!r}")
        if key in ("problem", "suggestion", "note") and value is not None and not isinstance(value, str):
            raise ValueError(f"details[{key!r}] must be a text")
    return dict(details)


def raised_problem(details: Mapping[str, Any] | None) -> str | None:
    """The problem the customer raised on the call, if any (stripped text)."""
    text = (details or {}).get("problem")
    return text.strip() if isinstance(text, str) and text.strip() else None


def classify_claim(
    *, outcome: str, answers: Mapping[str, Any], details: Mapping[str, Any] | None, settings: Any
) -> Classification:
    """Classify one claim revisit call; see the module docstring. Raises ``ValueError`` on bad input."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown call outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    given = _validate(answers)
    extra = _details(details)
    if outcome in VERIFICATION_OUTCOMES:
        return Classification(VERIFICATION, verification_reason=VERIFICATION_OUTCOMES[outcome])
    if outcome in RETRY_OUTCOMES:
        return Classification(None, not_policyholder=outcome == NOT_POLICYHOLDER)
    assert outcome == CONNECTED
    if given.get(IDENTITY) == "no":
        return Classification(None, not_policyholder=True)
    if extra.get("data_mismatch"):
        return Classification(VERIFICATION, verification_reason=REASON_DATA_MISMATCH)
    missing = [key for key in ITEMS if key not in given]
    if missing:
        raise IncompleteAnswers(missing)
    score, clear, attitude = given[SERVICE_SATISFACTION], given[LIABILITY_CLEAR], given[STAFF_ATTITUDE]
    if raised_problem(extra) or score <= settings.claim_satisfaction_problem_at_most or attitude == "poor":
        return Classification(PROBLEM, problem_category=CLAIM_DISSATISFIED)
    if clear == "no":
        return Classification(PROBLEM, problem_category=CLAIM_EXPLANATION_NEEDED)
    sub_types = []
    if clear == "corrected":
        sub_types.append(CLAIM_LIABILITY_UNCLEAR)
    if score <= settings.claim_satisfaction_substandard_at_most or attitude == "average":
        sub_types.append(CLAIM_SERVICE_AVERAGE)
    if sub_types:
        return Classification(SUBSTANDARD, sub_types=tuple(sub_types))
    return Classification(STANDARD)
