"""Classification of one revisit call (回访结果分类), SPEC §2.6 — one pure function, no I/O.

``classify(outcome=..., answers=..., product_type=..., payment_mode=..., details=...)`` returns a
``Classification``. The rules, in the order they are applied:

1. **Call not completed** (``outcome`` other than ``connected``):

   * ``wrong_number``, ``refused``, ``language_barrier`` → **verification** (核实件) with that reason;
   * ``no_answer``, ``busy``, ``appointment``, ``not_policyholder`` → ``cls=None``: the attempt decides
     nothing, the case is retried (``not_policyholder=True`` for the last one). Running out of
     attempts (``unreachable``) is decided by the attempt ladder (SPEC §2.7), not here.

   Answers and details given with such an outcome are validated and otherwise ignored.

2. **Connected**, in this order:

   a. ``identity: no`` → the person is not the policyholder: nothing was disclosed, so it is the
      ``not_policyholder`` outcome (``cls=None``, ``not_policyholder=True``) whatever else was given.
   b. ``details["data_mismatch"]`` → the identity-check data did not match the policy record
      (保单信息有误: 身份验证信息与记录不符/姓名性别有误) → **verification** ``data_mismatch``. The
      policyholder is not verified, so nothing else from the call counts (not even an address change).
   c. Completeness: every item that applies to the product must be answered, else
      ``IncompleteAnswers``. When ``received_policy`` is ``no`` the call stops there, so only the items
      asked up to it (``identity``, ``purchased_and_signed``, ``received_policy``) are required.
   d. ``details["proxy_signature"]`` (投保单/回执/其他投保资料代签字, 风险提示语代抄录) → **problem**
      ``proxy_signature``, sub-types of any ``no`` items. It takes precedence over every other
      finding, including ``received_policy: no``: a proxy signature is a contract-quality violation
      the branch must handle (SPEC §2.8/§2.10) and must not be lost behind a "call again after
      delivery"; the problem's follow-up call re-asks the questionnaire anyway.
   e. ``received_policy: no`` → **verification** ``contract_not_received`` (re-call after delivery),
      regardless of the other answers and of ``explanation_needed`` (the re-call after delivery asks
      the whole questionnaire again).
   f. Some knowledge item ``no`` → **problem** ``misleading_suspected`` (疑似误导: the six
      sub-types, not corrected), sub-types of the ``no`` items.
   g. ``details["explanation_needed"]`` and no item ``no`` → **problem** ``explanation_needed``
      (沟通解释类): the customer raised a question or doubt the agent could not settle on the call
      (确实无法在线回答的, 应当将该保单作为问题件 — e.g. cannot remember whether they signed personally,
      记不清是否为代签字), so the branch must contact them. Sub-types are those of any ``corrected``
      items (usually none). With a ``no`` item the case is already a problem and the stronger
      category (f) wins.
   h. Some knowledge item ``corrected`` → **substandard** (次标准件) with the sub-types of those items.
   i. Otherwise → **standard** (标准件).

Decisions about the items that are not knowledge items (they have no sub-type):

* ``identity`` and ``received_policy``: ``corrected`` means "confirmed after clarification" and
  counts as ``yes`` — it is not a gap in the customer's knowledge, so it never makes a case
  sub-standard.
* ``address_confirmed``: not a failure (SPEC §2.5 item 10). ``no`` or ``corrected`` sets
  ``address_changed=True``, with the new address from ``details["new_address"]`` if given; it never
  changes the class.
* ``purchased_and_signed: no`` without ``proxy_signature`` details is read as "did not know it is
  insurance / thought it a deposit" (``thought_deposit``) — a suspected misleading sale; when the
  customer says someone else signed, the caller passes ``proxy_signature``.

Items that do not apply to the product (``payment_known`` for single premium,
``returns_uncertain_known`` for traditional) are not required and ignored if given (their values are
still validated). For universal products, a non-``yes`` answer to ``returns_uncertain_known`` also
yields ``unclear_universal_fees``, the item covering the fee deductions too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.questionnaire import (
    ADDRESS_CONFIRMED,
    ANSWERS,
    COOLING_OFF_KNOWN,
    CORRECTED,
    COVERAGE_KNOWN,
    IDENTITY,
    ITEM_KEYS,
    NO,
    PAYMENT_KNOWN,
    PURCHASED_AND_SIGNED,
    READ_DOCUMENTS,
    RECEIVED_POLICY,
    RETURNS_UNCERTAIN_KNOWN,
    SURRENDER_LOSS_KNOWN,
    UNIVERSAL,
    items_for,
)

# --- call outcomes (SPEC §4) -----------------------------------------------------------------

CONNECTED = "connected"
NO_ANSWER = "no_answer"
BUSY = "busy"
WRONG_NUMBER = "wrong_number"
REFUSED = "refused"
NOT_POLICYHOLDER = "not_policyholder"
LANGUAGE_BARRIER = "language_barrier"
APPOINTMENT = "appointment"
OUTCOMES: tuple[str, ...] = (
    CONNECTED,
    NO_ANSWER,
    BUSY,
    WRONG_NUMBER,
    REFUSED,
    NOT_POLICYHOLDER,
    LANGUAGE_BARRIER,
    APPOINTMENT,
)

# --- classes ---------------------------------------------------------------------------------

STANDARD = "standard"  # 标准件
SUBSTANDARD = "substandard"  # 次标准件
PROBLEM = "problem"  # 问题件
VERIFICATION = "verification"  # 核实件
CLASSES: tuple[str, ...] = (STANDARD, SUBSTANDARD, PROBLEM, VERIFICATION)

# --- sub-types (次标准件 / 疑似误导 sub-types, SPEC §2.6), in report order --------------------

THOUGHT_DEPOSIT = "thought_deposit"  # 不知是保险 / 认为存款赠保险
UNCLEAR_COVERAGE = "unclear_coverage"  # 不清楚投保提示 / 保险责任 / 责任免除
UNCLEAR_COOLING_OFF_SURRENDER = "unclear_cooling_off_surrender"  # 不清楚犹豫期权益 / 退保损失
UNCLEAR_PAYMENT_TERM = "unclear_payment_term"  # 不清楚缴费年限 / 保险期限
UNCLEAR_RETURNS = "unclear_returns"  # 不清楚收益不确定性
UNCLEAR_UNIVERSAL_FEES = "unclear_universal_fees"  # 不清楚万能险费用扣除项目 / 比例 / 金额
SUB_TYPES: tuple[str, ...] = (
    THOUGHT_DEPOSIT,
    UNCLEAR_COVERAGE,
    UNCLEAR_COOLING_OFF_SURRENDER,
    UNCLEAR_PAYMENT_TERM,
    UNCLEAR_RETURNS,
    UNCLEAR_UNIVERSAL_FEES,
)

#: THE item → sub-type table. Its keys are the *knowledge items*; the other items (identity,
#: received_policy, address_confirmed) are facts, not knowledge, and have no sub-type.
ITEM_SUB_TYPES: dict[str, tuple[str, ...]] = {
    PURCHASED_AND_SIGNED.key: (THOUGHT_DEPOSIT,),
    READ_DOCUMENTS.key: (UNCLEAR_COVERAGE,),
    COVERAGE_KNOWN.key: (UNCLEAR_COVERAGE,),
    SURRENDER_LOSS_KNOWN.key: (UNCLEAR_COOLING_OFF_SURRENDER,),
    COOLING_OFF_KNOWN.key: (UNCLEAR_COOLING_OFF_SURRENDER,),
    PAYMENT_KNOWN.key: (UNCLEAR_PAYMENT_TERM,),
    RETURNS_UNCERTAIN_KNOWN.key: (UNCLEAR_RETURNS, UNCLEAR_UNIVERSAL_FEES),
}
#: Sub-types that exist only for one product type (dropped from ``ITEM_SUB_TYPES`` for the others).
PRODUCT_ONLY_SUB_TYPES: dict[str, str] = {UNCLEAR_UNIVERSAL_FEES: UNIVERSAL}
KNOWLEDGE_ITEMS: frozenset[str] = frozenset(ITEM_SUB_TYPES)

# --- problem categories (问题件分类) ----------------------------------------------------------

MISLEADING_SUSPECTED = "misleading_suspected"  # 疑似误导类
EXPLANATION_NEEDED = "explanation_needed"  # 沟通解释类
PROXY_SIGNATURE = "proxy_signature"  # 代签字类
PROBLEM_CATEGORIES: tuple[str, ...] = (MISLEADING_SUSPECTED, EXPLANATION_NEEDED, PROXY_SIGNATURE)

#: What was signed or copied by someone else (``details["proxy_signature"]``).
PROXY_SIGNATURE_DOCUMENTS: tuple[str, ...] = (
    "application",  # 投保单 / 投保书
    "receipt",  # 保单回执
    "other_documents",  # 其他重要投保资料 (e.g. 投保提示书)
    "risk_statement_copied",  # 风险提示语代抄录
)

# --- verification reasons (核实件分类) --------------------------------------------------------

REASON_WRONG_NUMBER = "wrong_number"  # 电话有误
REASON_SHARED_NUMBER = "shared_number"  # 重复号码 (flagged at intake)
REASON_REFUSED = "refused"  # 拒访
REASON_DATA_MISMATCH = "data_mismatch"  # 保单信息有误
REASON_LANGUAGE_BARRIER = "language_barrier"  # 语言沟通不畅
REASON_UNREACHABLE = "unreachable"  # 联系不上投保人 (attempt budget exhausted, SPEC §2.7)
REASON_CONTRACT_NOT_RECEIVED = "contract_not_received"  # 未收到合同
VERIFICATION_REASONS: tuple[str, ...] = (
    REASON_WRONG_NUMBER,
    REASON_SHARED_NUMBER,
    REASON_REFUSED,
    REASON_DATA_MISMATCH,
    REASON_LANGUAGE_BARRIER,
    REASON_UNREACHABLE,
    REASON_CONTRACT_NOT_RECEIVED,
)

#: Outcomes that make the case a verification straight away, with their reason.
VERIFICATION_OUTCOMES: dict[str, str] = {
    WRONG_NUMBER: REASON_WRONG_NUMBER,
    REFUSED: REASON_REFUSED,
    LANGUAGE_BARRIER: REASON_LANGUAGE_BARRIER,
}
#: Outcomes that decide nothing: the case is called again (another time / another number).
RETRY_OUTCOMES: frozenset[str] = frozenset({NO_ANSWER, BUSY, APPOINTMENT, NOT_POLICYHOLDER})

#: Answers to ``address_confirmed`` that mean the address on file was wrong and a new one given.
ADDRESS_CHANGED_ANSWERS: frozenset[str] = frozenset({NO, CORRECTED})

# --- details ---------------------------------------------------------------------------------

DETAIL_PROXY_SIGNATURE = "proxy_signature"
DETAIL_EXPLANATION_NEEDED = "explanation_needed"
DETAIL_NEW_ADDRESS = "new_address"
DETAIL_DATA_MISMATCH = "data_mismatch"
DETAIL_PROXY_SIGNED_BY = "proxy_signed_by"  # who signed for the customer: the penalty rule depends on it (SPEC §2.10)
PROXY_SIGNED_BY: tuple[str, ...] = ("customer_side", "agent")  # 客户方代签 / 代理人代签
DETAIL_KEYS: tuple[str, ...] = (
    DETAIL_PROXY_SIGNATURE,
    DETAIL_EXPLANATION_NEEDED,
    DETAIL_NEW_ADDRESS,
    DETAIL_DATA_MISMATCH,
    DETAIL_PROXY_SIGNED_BY,
)


class IncompleteAnswers(ValueError):
    """A connected call lacks answers to items that apply to the product."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing: list[str] = list(missing)
        super().__init__("incomplete answers: missing applicable item(s) " + ", ".join(self.missing))


@dataclass(frozen=True)
class Classification:
    """What one call attempt decided.

    ``cls`` is ``standard`` / ``substandard`` / ``problem`` / ``verification``, or ``None`` when the
    attempt decides nothing and the case is retried (``not_policyholder`` tells that case apart).
    ``sub_types`` come from ``SUB_TYPES``; ``problem_category`` is set only for problems,
    ``verification_reason`` only for verifications; ``proxy_signature`` lists the documents signed or
    copied by someone else (proxy-signature problems only).
    """

    cls: str | None
    sub_types: tuple[str, ...] = ()
    problem_category: str | None = None
    verification_reason: str | None = None
    address_changed: bool = False
    new_address: str | None = None
    not_policyholder: bool = False
    proxy_signature: tuple[str, ...] = ()
    proxy_signed_by: str | None = None  # proxy-signature problems only, when the call said: customer_side | agent


# --- validation ------------------------------------------------------------------------------


def _validate_answers(answers: Mapping[str, str]) -> None:
    if not isinstance(answers, Mapping):
        raise ValueError(f"answers must be a mapping of item key to answer, not {type(answers).__name__}")
    for key, answer in answers.items():
        if key not in ITEM_KEYS:
            raise ValueError(f"unknown questionnaire item {key!r}; expected one of {', '.join(ITEM_KEYS)}")
        if not isinstance(answer, str) or answer not in ANSWERS:
            raise ValueError(f"invalid answer {answer!r} for item {key!r}; expected one of {', '.join(ANSWERS)}")


@dataclass(frozen=True)
class _Details:
    proxy_signature: tuple[str, ...] = ()
    explanation_needed: bool = False
    new_address: str | None = None
    data_mismatch: bool = False
    proxy_signed_by: str | None = None


def _flag(details: Mapping[str, Any], key: str) -> bool:
    value = details.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"details[{key!r}] must be true or false, not {value!r}")
    return value


def _parse_details(details: Mapping[str, Any] | None, answers: Mapping[str, str]) -> _Details:
    if details is None:
        return _Details()
    if not isinstance(details, Mapping):
        raise ValueError(f"details must be a mapping, not {type(details).__name__}")
    for key in details:
        if key not in DETAIL_KEYS:
            raise ValueError(f"unknown detail {key!r}; expected one of {', '.join(DETAIL_KEYS)}")

    documents = details.get(DETAIL_PROXY_SIGNATURE) or ()
    if isinstance(documents, str) or not isinstance(documents, Sequence):
        raise ValueError(
            f"details[{DETAIL_PROXY_SIGNATURE!r}] must be a list of {', '.join(PROXY_SIGNATURE_DOCUMENTS)}, "
            f"not {documents!r}"
        )
    for document in documents:
        if document not in PROXY_SIGNATURE_DOCUMENTS:
            raise ValueError(
                f"unknown proxy-signature document {document!r}; expected one of {', '.join(PROXY_SIGNATURE_DOCUMENTS)}"
            )
    proxy = tuple(document for document in PROXY_SIGNATURE_DOCUMENTS if document in documents)

    new_address = details.get(DETAIL_NEW_ADDRESS)
    if new_address is not None:
        if not isinstance(new_address, str) or not new_address.strip():
            raise ValueError(f"details[{DETAIL_NEW_ADDRESS!r}] must be a non-empty string, not {new_address!r}")
        if answers.get(ADDRESS_CONFIRMED.key) not in ADDRESS_CHANGED_ANSWERS:
            raise ValueError(
                f"details[{DETAIL_NEW_ADDRESS!r}] given but {ADDRESS_CONFIRMED.key!r} is not answered "
                f"{' or '.join(sorted(ADDRESS_CHANGED_ANSWERS))}"
            )
        new_address = new_address.strip()

    signed_by = details.get(DETAIL_PROXY_SIGNED_BY)
    if signed_by is not None and signed_by not in PROXY_SIGNED_BY:
        raise ValueError(
            f"details[{DETAIL_PROXY_SIGNED_BY!r}] must be one of {', '.join(PROXY_SIGNED_BY)}, not {signed_by!r}"
        )

    return _Details(
        proxy_signature=proxy,
        proxy_signed_by=signed_by,
        explanation_needed=_flag(details, DETAIL_EXPLANATION_NEEDED),
        new_address=new_address,
        data_mismatch=_flag(details, DETAIL_DATA_MISMATCH),
    )


# --- rules -----------------------------------------------------------------------------------


def _sub_types(keys: list[str], product_type: str) -> tuple[str, ...]:
    """Sub-types of these knowledge items for this product, de-duplicated, in ``SUB_TYPES`` order."""
    found = {
        sub_type
        for key in keys
        for sub_type in ITEM_SUB_TYPES[key]
        if PRODUCT_ONLY_SUB_TYPES.get(sub_type, product_type) == product_type
    }
    return tuple(sub_type for sub_type in SUB_TYPES if sub_type in found)


def classify(
    *,
    outcome: str,
    answers: Mapping[str, str],
    product_type: str,
    payment_mode: str,
    details: Mapping[str, Any] | None = None,
) -> Classification:
    """Classify one call attempt (SPEC §2.6); see the module docstring for the rules.

    Raises ``ValueError`` for an unknown outcome, product type, payment mode, item key, answer or
    detail, and ``IncompleteAnswers`` (a ``ValueError``) when a connected call lacks an applicable
    item.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown call outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    applicable = [item.key for item in items_for(product_type, payment_mode)]
    _validate_answers(answers)
    extra = _parse_details(details, answers)

    if outcome in VERIFICATION_OUTCOMES:
        return Classification(VERIFICATION, verification_reason=VERIFICATION_OUTCOMES[outcome])
    if outcome in RETRY_OUTCOMES:
        return Classification(None, not_policyholder=outcome == NOT_POLICYHOLDER)

    # connected: only the items that apply to this product count
    given = {key: answers[key] for key in applicable if key in answers}
    if given.get(IDENTITY.key) == NO:
        return Classification(None, not_policyholder=True)
    if extra.data_mismatch:
        return Classification(VERIFICATION, verification_reason=REASON_DATA_MISMATCH)

    address_changed = given.get(ADDRESS_CONFIRMED.key) in ADDRESS_CHANGED_ANSWERS
    address = {"address_changed": address_changed, "new_address": extra.new_address}
    not_received = given.get(RECEIVED_POLICY.key) == NO

    # the call stops at ``received_policy: no``: only the items asked up to it are required then
    required = applicable[: applicable.index(RECEIVED_POLICY.key) + 1] if not_received else applicable
    missing = [key for key in required if key not in given]
    if missing:
        raise IncompleteAnswers(missing)

    failed = [key for key in applicable if key in KNOWLEDGE_ITEMS and given.get(key) == NO]
    corrected = [key for key in applicable if key in KNOWLEDGE_ITEMS and given.get(key) == CORRECTED]

    if extra.proxy_signature:
        return Classification(
            PROBLEM,
            sub_types=_sub_types(failed, product_type),
            problem_category=PROXY_SIGNATURE,
            proxy_signature=extra.proxy_signature,
            proxy_signed_by=extra.proxy_signed_by,
            **address,
        )
    if not_received:
        return Classification(VERIFICATION, verification_reason=REASON_CONTRACT_NOT_RECEIVED, **address)
    if failed:
        return Classification(
            PROBLEM, sub_types=_sub_types(failed, product_type), problem_category=MISLEADING_SUSPECTED, **address
        )
    if extra.explanation_needed:
        return Classification(
            PROBLEM, sub_types=_sub_types(corrected, product_type), problem_category=EXPLANATION_NEEDED, **address
        )
    if corrected:
        return Classification(SUBSTANDARD, sub_types=_sub_types(corrected, product_type), **address)
    return Classification(STANDARD, **address)


__all__ = [
    "OUTCOMES",
    "CONNECTED",
    "NO_ANSWER",
    "BUSY",
    "WRONG_NUMBER",
    "REFUSED",
    "NOT_POLICYHOLDER",
    "LANGUAGE_BARRIER",
    "APPOINTMENT",
    "CLASSES",
    "STANDARD",
    "SUBSTANDARD",
    "PROBLEM",
    "VERIFICATION",
    "SUB_TYPES",
    "ITEM_SUB_TYPES",
    "PRODUCT_ONLY_SUB_TYPES",
    "KNOWLEDGE_ITEMS",
    "PROBLEM_CATEGORIES",
    "MISLEADING_SUSPECTED",
    "EXPLANATION_NEEDED",
    "PROXY_SIGNATURE",
    "PROXY_SIGNATURE_DOCUMENTS",
    "VERIFICATION_REASONS",
    "VERIFICATION_OUTCOMES",
    "RETRY_OUTCOMES",
    "DETAIL_KEYS",
    "Classification",
    "IncompleteAnswers",
    "classify",
    "classify_revisit",
]


def classify_revisit(
    *,
    kind: str,
    outcome: str,
    answers: Mapping[str, Any],
    product_type: str,
    payment_mode: str,
    details: Mapping[str, Any] | None = None,
    settings: Any = None,
) -> Classification:
    """Classify a call of either revisit kind: ``new_contract`` by ``classify`` above, ``claim`` by the
    claim questionnaire (``domain.claim_classification``, SPEC §2.11)."""
    if kind == "claim":
        from domain.claim_classification import classify_claim  # it builds on this module's names

        return classify_claim(outcome=outcome, answers=answers, details=details, settings=settings)
    return classify(
        outcome=outcome, answers=answers, product_type=product_type, payment_mode=payment_mode, details=details
    )
