"""The new-contract revisit questionnaire (新契约回访问卷), SPEC §2.5.

Pure data: the ten items in the order they are asked, their Chinese and English wording, the
three possible answers, and which items apply to which product. No I/O.

Every item is answered with one of ``ANSWERS``:

* ``yes`` — confirmed / known;
* ``corrected`` — did not know, the agent explained it on the call and the customer now understands
  (已纠正);
* ``no`` — still not understood, or the customer denies it (未纠正).

Which items are asked depends on the policy:

* ``payment_known`` only for regular premium (every payment mode except ``single``);
* ``returns_uncertain_known`` only for participating, universal and investment-linked products;
  for universal products that item also covers the fee deductions (``UNIVERSAL_FEES_QUESTION_*``).

How the answers turn into a class is ``domain.classification``.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- answers ---------------------------------------------------------------------------------

YES = "yes"
CORRECTED = "corrected"
NO = "no"
ANSWERS: tuple[str, ...] = (YES, CORRECTED, NO)

# --- products --------------------------------------------------------------------------------

TRADITIONAL = "traditional"
PARTICIPATING = "participating"  # 分红
UNIVERSAL = "universal"  # 万能
INVESTMENT_LINKED = "investment_linked"  # 投连
PRODUCT_TYPES: tuple[str, ...] = (TRADITIONAL, PARTICIPATING, UNIVERSAL, INVESTMENT_LINKED)

#: Products whose returns above the guarantee are uncertain (item 9 applies).
UNCERTAIN_RETURN_PRODUCT_TYPES: frozenset[str] = frozenset({PARTICIPATING, UNIVERSAL, INVESTMENT_LINKED})

SINGLE_PREMIUM = "single"  # 趸交
#: Payment modes as stored on the policy (models/policy.py); all but ``single`` are regular premium.
PAYMENT_MODES: tuple[str, ...] = (SINGLE_PREMIUM, "annual", "semiannual", "quarterly", "monthly")


# --- items -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One questionnaire item: a stable key and the question as the agent asks it."""

    key: str
    question_zh: str
    question_en: str


IDENTITY = Item(
    "identity",
    "您好,请问您是投保人本人吗?",
    "Hello, am I speaking with the policyholder in person?",
)
PURCHASED_AND_SIGNED = Item(
    "purchased_and_signed",
    "您是否购买了本公司的这款保险产品?投保书及相关投保资料是否由投保人、被保险人本人亲笔签名?",
    "Did you buy this insurance product from us, and did the policyholder and the insured sign the "
    "application and the other purchase documents personally?",
)
RECEIVED_POLICY = Item(
    "received_policy",
    "您是否已经收到保险合同,并亲笔签收了保单回执?",
    "Have you received the insurance contract and signed the acknowledgement of receipt yourself?",
)
READ_DOCUMENTS = Item(
    "read_documents",
    "您是否已经阅读了产品说明书和投保提示书?",
    "Have you read the product brochure and the purchase notice?",
)
COVERAGE_KNOWN = Item(
    "coverage_known",
    "您是否了解本产品的保险责任、责任免除和保险期间?",
    "Do you know what the policy covers, what it excludes and how long the cover lasts?",
)
SURRENDER_LOSS_KNOWN = Item(
    "surrender_loss_known",
    "您是否了解犹豫期过后解除合同(退保)可能会给您带来一定的损失?",
    "Do you know that surrendering the policy after the cooling-off period may cause you a loss?",
)
COOLING_OFF_KNOWN = Item(
    "cooling_off_known",
    "您是否了解本保单的犹豫期从何时开始、共有多少天,以及犹豫期内解除合同可退还所交保费的权益?",
    "Do you know when the cooling-off period starts, how long it lasts, and that you can cancel within "
    "it and have the premium refunded?",
)
PAYMENT_KNOWN = Item(
    "payment_known",
    "您是否清楚本保单的缴费年限和缴费方式(缴费频率)?",
    "Do you know for how many years and how often premiums are to be paid?",
)
RETURNS_UNCERTAIN_KNOWN = Item(
    "returns_uncertain_known",
    "您是否了解本产品超过保证部分的收益(如红利、结算利率超过保证利率的部分、投资收益)是不确定的,"
    "取决于公司的实际经营或投资状况?",
    "Do you know that returns above the guaranteed part (bonuses, crediting rate above the guaranteed "
    "rate, investment returns) are not guaranteed and depend on the company's actual results?",
)
ADDRESS_CONFIRMED = Item(
    "address_confirmed",
    "请您核对一下联系地址,是否正确?",
    "Could you please confirm that your contact address on file is correct?",
)

#: Asked together with ``returns_uncertain_known`` for universal products only (text only: it is
#: answered as part of that item).
UNIVERSAL_FEES_QUESTION_ZH = "您是否了解万能账户的费用扣除项目、扣除比例和金额(如初始费用、保单管理费、风险保险费、退保费用)?"
UNIVERSAL_FEES_QUESTION_EN = (
    "Do you know which fees are deducted from the universal account, and at what rates and amounts "
    "(initial charge, policy administration charge, cost of insurance, surrender charge)?"
)

#: All items, in the order they are asked (SPEC §2.5).
ITEMS: tuple[Item, ...] = (
    IDENTITY,
    PURCHASED_AND_SIGNED,
    RECEIVED_POLICY,
    READ_DOCUMENTS,
    COVERAGE_KNOWN,
    SURRENDER_LOSS_KNOWN,
    COOLING_OFF_KNOWN,
    PAYMENT_KNOWN,
    RETURNS_UNCERTAIN_KNOWN,
    ADDRESS_CONFIRMED,
)
ITEMS_BY_KEY: dict[str, Item] = {item.key: item for item in ITEMS}
ITEM_KEYS: tuple[str, ...] = tuple(ITEMS_BY_KEY)


def _check_product_type(product_type: str) -> None:
    if product_type not in PRODUCT_TYPES:
        raise ValueError(f"unknown product type {product_type!r}; expected one of {', '.join(PRODUCT_TYPES)}")


def _check_payment_mode(payment_mode: str) -> None:
    if payment_mode not in PAYMENT_MODES:
        raise ValueError(f"unknown payment mode {payment_mode!r}; expected one of {', '.join(PAYMENT_MODES)}")


def item_applies(key: str, product_type: str, payment_mode: str) -> bool:
    """Whether item ``key`` is asked for a policy of this product type and payment mode."""
    if key == PAYMENT_KNOWN.key:
        return payment_mode != SINGLE_PREMIUM
    if key == RETURNS_UNCERTAIN_KNOWN.key:
        return product_type in UNCERTAIN_RETURN_PRODUCT_TYPES
    return True


def items_for(product_type: str, payment_mode: str) -> list[Item]:
    """The items asked for this policy, in order.

    Raises ``ValueError`` for an unknown product type or payment mode.
    """
    _check_product_type(product_type)
    _check_payment_mode(payment_mode)
    return [item for item in ITEMS if item_applies(item.key, product_type, payment_mode)]


def question_text(item: Item, product_type: str, lang: str = "zh") -> str:
    """The full question as asked for this product (universal adds the fee question to item 9)."""
    _check_product_type(product_type)
    if lang == "zh":
        text, extra = item.question_zh, UNIVERSAL_FEES_QUESTION_ZH
    elif lang == "en":
        text, extra = item.question_en, UNIVERSAL_FEES_QUESTION_EN
    else:
        raise ValueError(f"unknown language {lang!r}; expected 'zh' or 'en'")
    if item.key == RETURNS_UNCERTAIN_KNOWN.key and product_type == UNIVERSAL:
        return f"{text} {extra}"
    return text


__all__ = [
    "ANSWERS",
    "YES",
    "CORRECTED",
    "NO",
    "Item",
    "ITEMS",
    "ITEMS_BY_KEY",
    "ITEM_KEYS",
    "IDENTITY",
    "PURCHASED_AND_SIGNED",
    "RECEIVED_POLICY",
    "READ_DOCUMENTS",
    "COVERAGE_KNOWN",
    "SURRENDER_LOSS_KNOWN",
    "COOLING_OFF_KNOWN",
    "PAYMENT_KNOWN",
    "RETURNS_UNCERTAIN_KNOWN",
    "ADDRESS_CONFIRMED",
    "UNIVERSAL_FEES_QUESTION_ZH",
    "UNIVERSAL_FEES_QUESTION_EN",
    "PRODUCT_TYPES",
    "TRADITIONAL",
    "PARTICIPATING",
    "UNIVERSAL",
    "INVESTMENT_LINKED",
    "UNCERTAIN_RETURN_PRODUCT_TYPES",
    "PAYMENT_MODES",
    "SINGLE_PREMIUM",
    "item_applies",
    "items_for",
    "question_text",
]
