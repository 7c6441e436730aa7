"""Table tests for the questionnaire and the revisit classification (SPEC §2.5, §2.6)."""

from __future__ import annotations

import dataclasses

import pytest

from domain.classification import (
    CLASSES,
    ITEM_SUB_TYPES,
    OUTCOMES,
    PROBLEM_CATEGORIES,
    SUB_TYPES,
    VERIFICATION_REASONS,
    Classification,
    IncompleteAnswers,
    classify,
)
from domain.questionnaire import (
    ANSWERS,
    ITEM_KEYS,
    ITEMS,
    PRODUCT_TYPES,
    RETURNS_UNCERTAIN_KNOWN,
    UNIVERSAL_FEES_QUESTION_EN,
    UNIVERSAL_FEES_QUESTION_ZH,
    Item,
    items_for,
    question_text,
)

ALL_KEYS = [
    "identity",
    "purchased_and_signed",
    "received_policy",
    "read_documents",
    "coverage_known",
    "surrender_loss_known",
    "cooling_off_known",
    "payment_known",
    "returns_uncertain_known",
    "address_confirmed",
]

# product label -> (product_type, payment_mode, items that do NOT apply)
PRODUCTS = {
    "traditional_single": ("traditional", "single", {"payment_known", "returns_uncertain_known"}),
    "participating_regular": ("participating", "annual", set()),
    "universal_regular": ("universal", "monthly", set()),
    "investment_linked_regular": ("investment_linked", "quarterly", set()),
}

# The oracle, written independently of the implementation: which sub-types a non-yes answer to a
# knowledge item yields, per product label.
BASE_SUB_TYPES = {
    "purchased_and_signed": ("thought_deposit",),
    "read_documents": ("unclear_coverage",),
    "coverage_known": ("unclear_coverage",),
    "surrender_loss_known": ("unclear_cooling_off_surrender",),
    "cooling_off_known": ("unclear_cooling_off_surrender",),
    "payment_known": ("unclear_payment_term",),
    "returns_uncertain_known": ("unclear_returns",),
}


def expected_sub_types(label: str, key: str) -> tuple[str, ...]:
    if label == "universal_regular" and key == "returns_uncertain_known":
        return ("unclear_returns", "unclear_universal_fees")
    return BASE_SUB_TYPES[key]


def applicable_keys(label: str) -> list[str]:
    _, _, not_applicable = PRODUCTS[label]
    return [key for key in ALL_KEYS if key not in not_applicable]


def all_yes(label: str) -> dict[str, str]:
    return {key: "yes" for key in applicable_keys(label)}


def run(label: str, answers: dict[str, str], outcome: str = "connected", details=None) -> Classification:
    product_type, payment_mode, _ = PRODUCTS[label]
    return classify(
        outcome=outcome, answers=answers, product_type=product_type, payment_mode=payment_mode, details=details
    )


STANDARD = Classification("standard")
NOT_POLICYHOLDER = Classification(None, not_policyholder=True)


def expected_for(label: str, key: str, answer: str) -> Classification:
    """What a call with every applicable item `yes` except `key: answer` must be classified as."""
    if key not in applicable_keys(label) or answer == "yes":
        return STANDARD
    if key == "identity":
        return NOT_POLICYHOLDER if answer == "no" else STANDARD
    if key == "received_policy":
        if answer == "no":
            return Classification("verification", verification_reason="contract_not_received")
        return STANDARD
    if key == "address_confirmed":
        return Classification("standard", address_changed=True)
    if answer == "corrected":
        return Classification("substandard", sub_types=expected_sub_types(label, key))
    return Classification("problem", sub_types=expected_sub_types(label, key), problem_category="misleading_suspected")


ITEM_ANSWER_CASES = [
    pytest.param(label, key, answer, id=f"{label}-{key}-{answer}")
    for label in PRODUCTS
    for key in ALL_KEYS
    for answer in ("yes", "corrected", "no")
]


# --- questionnaire ---------------------------------------------------------------------------


def test_items_are_the_ten_of_the_spec_in_order_with_both_languages():
    assert [item.key for item in ITEMS] == ALL_KEYS
    assert list(ITEM_KEYS) == ALL_KEYS
    for item in ITEMS:
        assert isinstance(item, Item)
        assert item.question_zh.strip() and item.question_en.strip()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in item.question_zh)
    assert ANSWERS == ("yes", "corrected", "no")


def test_item_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ITEMS[0].key = "other"  # type: ignore[misc]


@pytest.mark.parametrize("label", list(PRODUCTS))
def test_items_for_filters_by_product_and_payment_mode(label):
    product_type, payment_mode, _ = PRODUCTS[label]
    assert [item.key for item in items_for(product_type, payment_mode)] == applicable_keys(label)


@pytest.mark.parametrize(
    ("product_type", "payment_mode", "has_payment", "has_returns"),
    [
        ("traditional", "single", False, False),
        ("traditional", "annual", True, False),
        ("participating", "single", False, True),
        ("universal", "single", False, True),
        ("investment_linked", "monthly", True, True),
        ("investment_linked", "single", False, True),
    ],
)
def test_items_for_each_conditional_item(product_type, payment_mode, has_payment, has_returns):
    keys = [item.key for item in items_for(product_type, payment_mode)]
    assert ("payment_known" in keys) is has_payment
    assert ("returns_uncertain_known" in keys) is has_returns
    assert len(keys) == 8 + has_payment + has_returns


@pytest.mark.parametrize("product_type", ["term", "", "Traditional"])
def test_items_for_rejects_unknown_product_type(product_type):
    with pytest.raises(ValueError, match="product type"):
        items_for(product_type, "annual")


def test_items_for_rejects_unknown_payment_mode():
    with pytest.raises(ValueError, match="payment mode"):
        items_for("traditional", "weekly")


def test_universal_returns_question_includes_fee_deductions():
    assert UNIVERSAL_FEES_QUESTION_ZH in question_text(RETURNS_UNCERTAIN_KNOWN, "universal", "zh")
    assert UNIVERSAL_FEES_QUESTION_EN in question_text(RETURNS_UNCERTAIN_KNOWN, "universal", "en")
    for product_type in ("participating", "investment_linked"):
        assert question_text(RETURNS_UNCERTAIN_KNOWN, product_type) == RETURNS_UNCERTAIN_KNOWN.question_zh
        assert question_text(RETURNS_UNCERTAIN_KNOWN, product_type, "en") == RETURNS_UNCERTAIN_KNOWN.question_en
    assert question_text(ITEMS[0], "universal") == ITEMS[0].question_zh


# --- every item x every answer x every product type -----------------------------------------


@pytest.mark.parametrize(("label", "key", "answer"), ITEM_ANSWER_CASES)
def test_every_item_and_answer(label, key, answer):
    answers = all_yes(label) | {key: answer}
    assert run(label, answers) == expected_for(label, key, answer)


@pytest.mark.parametrize("label", list(PRODUCTS))
def test_all_yes_is_standard(label):
    assert run(label, all_yes(label)) == STANDARD


@pytest.mark.parametrize("label", list(PRODUCTS))
def test_all_knowledge_items_corrected_is_substandard_with_every_sub_type_once(label):
    answers = all_yes(label) | {key: "corrected" for key in applicable_keys(label) if key in BASE_SUB_TYPES}
    expected = {
        "traditional_single": ("thought_deposit", "unclear_coverage", "unclear_cooling_off_surrender"),
        "participating_regular": (
            "thought_deposit",
            "unclear_coverage",
            "unclear_cooling_off_surrender",
            "unclear_payment_term",
            "unclear_returns",
        ),
        "universal_regular": SUB_TYPES,
        "investment_linked_regular": (
            "thought_deposit",
            "unclear_coverage",
            "unclear_cooling_off_surrender",
            "unclear_payment_term",
            "unclear_returns",
        ),
    }[label]
    assert run(label, answers) == Classification("substandard", sub_types=expected)


def test_problem_lists_only_the_sub_types_of_the_no_items():
    answers = all_yes("participating_regular") | {
        "read_documents": "corrected",
        "cooling_off_known": "no",
        "payment_known": "no",
    }
    assert run("participating_regular", answers) == Classification(
        "problem",
        sub_types=("unclear_cooling_off_surrender", "unclear_payment_term"),
        problem_category="misleading_suspected",
    )


# --- outcomes --------------------------------------------------------------------------------

OUTCOME_CASES = {
    "no_answer": Classification(None),
    "busy": Classification(None),
    "appointment": Classification(None),
    "not_policyholder": NOT_POLICYHOLDER,
    "wrong_number": Classification("verification", verification_reason="wrong_number"),
    "refused": Classification("verification", verification_reason="refused"),
    "language_barrier": Classification("verification", verification_reason="language_barrier"),
}


def test_outcome_table_covers_every_outcome():
    assert set(OUTCOME_CASES) | {"connected"} == set(OUTCOMES)


@pytest.mark.parametrize("label", list(PRODUCTS))
@pytest.mark.parametrize(("outcome", "expected"), list(OUTCOME_CASES.items()))
def test_each_unconnected_outcome(label, outcome, expected):
    assert run(label, {}, outcome=outcome) == expected


@pytest.mark.parametrize(("outcome", "expected"), list(OUTCOME_CASES.items()))
def test_unconnected_outcome_ignores_answers_and_details(outcome, expected):
    answers = {"identity": "yes", "coverage_known": "no", "address_confirmed": "no"}
    details = {"proxy_signature": ["application"], "explanation_needed": True, "new_address": "上海市浦东新区"}
    assert run("universal_regular", answers, outcome=outcome, details=details) == expected


@pytest.mark.parametrize("outcome", ["hung_up", "", "CONNECTED"])
def test_unknown_outcome_is_rejected(outcome):
    with pytest.raises(ValueError, match="outcome"):
        run("traditional_single", {}, outcome=outcome)


def test_unconnected_outcome_still_validates_answers():
    with pytest.raises(ValueError, match="maybe"):
        run("traditional_single", {"identity": "maybe"}, outcome="busy")


# --- not applicable / missing / invalid ------------------------------------------------------


@pytest.mark.parametrize("answer", ["yes", "corrected", "no"])
def test_not_applicable_items_are_ignored_when_given(answer):
    answers = all_yes("traditional_single") | {"payment_known": answer, "returns_uncertain_known": answer}
    assert run("traditional_single", answers) == STANDARD


def test_not_applicable_item_with_an_invalid_answer_is_still_rejected():
    with pytest.raises(ValueError, match="payment_known"):
        run("traditional_single", all_yes("traditional_single") | {"payment_known": "perhaps"})


MISSING_CASES = [
    pytest.param(label, key, id=f"{label}-{key}") for label in PRODUCTS for key in applicable_keys(label)
]


@pytest.mark.parametrize(("label", "key"), MISSING_CASES)
def test_missing_applicable_item_is_rejected(label, key):
    answers = all_yes(label)
    del answers[key]
    with pytest.raises(IncompleteAnswers) as excinfo:
        run(label, answers)
    assert excinfo.value.missing == [key]
    assert key in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize("label", list(PRODUCTS))
def test_empty_answers_on_a_connected_call_list_every_applicable_item(label):
    with pytest.raises(IncompleteAnswers) as excinfo:
        run(label, {})
    assert excinfo.value.missing == applicable_keys(label)


def test_unknown_item_key_is_rejected_by_name():
    with pytest.raises(ValueError, match="beneficiary_known") as excinfo:
        run("traditional_single", all_yes("traditional_single") | {"beneficiary_known": "yes"})
    assert not isinstance(excinfo.value, IncompleteAnswers)


@pytest.mark.parametrize("answer", ["maybe", "YES", "", None, True])
def test_answer_outside_answers_is_rejected_by_name(answer):
    with pytest.raises(ValueError, match="coverage_known"):
        run("traditional_single", all_yes("traditional_single") | {"coverage_known": answer})


# --- identity / contract not received / data mismatch ----------------------------------------


def test_identity_no_is_not_policyholder_whatever_else_was_given():
    answers = {"identity": "no", "received_policy": "no", "coverage_known": "no", "address_confirmed": "no"}
    details = {"proxy_signature": ["receipt"], "explanation_needed": True}
    result = run("participating_regular", answers, details=details)
    assert result == NOT_POLICYHOLDER
    assert result.cls is None and result.address_changed is False


def test_identity_no_alone_needs_no_other_answer():
    assert run("universal_regular", {"identity": "no"}) == NOT_POLICYHOLDER


def test_received_policy_no_is_verification_regardless_of_other_answers():
    answers = {key: "no" for key in applicable_keys("universal_regular")} | {"identity": "yes"}
    answers["address_confirmed"] = "yes"
    assert run("universal_regular", answers) == Classification(
        "verification", verification_reason="contract_not_received"
    )


def test_received_policy_no_stops_the_call_so_later_items_are_not_required():
    answers = {"identity": "yes", "purchased_and_signed": "yes", "received_policy": "no"}
    assert run("investment_linked_regular", answers) == Classification(
        "verification", verification_reason="contract_not_received"
    )


def test_received_policy_no_still_needs_the_items_asked_before_it():
    with pytest.raises(IncompleteAnswers) as excinfo:
        run("investment_linked_regular", {"received_policy": "no"})
    assert excinfo.value.missing == ["identity", "purchased_and_signed"]


def test_received_policy_no_wins_over_explanation_needed():
    answers = all_yes("traditional_single") | {"received_policy": "no"}
    result = run("traditional_single", answers, details={"explanation_needed": True})
    assert result == Classification("verification", verification_reason="contract_not_received")


def test_data_mismatch_is_verification_and_ignores_the_rest_of_the_call():
    answers = {"identity": "yes", "coverage_known": "no", "address_confirmed": "no"}
    details = {"data_mismatch": True, "proxy_signature": ["application"], "new_address": "北京市朝阳区"}
    assert run("traditional_single", answers, details=details) == Classification(
        "verification", verification_reason="data_mismatch"
    )


def test_identity_no_wins_over_data_mismatch():
    assert run("traditional_single", {"identity": "no"}, details={"data_mismatch": True}) == NOT_POLICYHOLDER


# --- problem categories ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers_override", "details", "expected"),
    [
        pytest.param(
            {},
            {"proxy_signature": ["application"]},
            Classification("problem", problem_category="proxy_signature", proxy_signature=("application",)),
            id="proxy-with-all-yes",
        ),
        pytest.param(
            {"coverage_known": "no", "purchased_and_signed": "no", "read_documents": "corrected"},
            {"proxy_signature": ["risk_statement_copied", "receipt"]},
            Classification(
                "problem",
                sub_types=("thought_deposit", "unclear_coverage"),
                problem_category="proxy_signature",
                proxy_signature=("receipt", "risk_statement_copied"),
            ),
            id="proxy-beats-misleading",
        ),
        pytest.param(
            {"cooling_off_known": "corrected"},
            {"proxy_signature": ["other_documents"], "explanation_needed": True},
            Classification("problem", problem_category="proxy_signature", proxy_signature=("other_documents",)),
            id="proxy-beats-explanation",
        ),
        pytest.param(
            {"received_policy": "no"},
            {"proxy_signature": ["receipt", "receipt"]},
            Classification("problem", problem_category="proxy_signature", proxy_signature=("receipt",)),
            id="proxy-beats-contract-not-received",
        ),
        pytest.param(
            {},
            {"proxy_signature": []},
            STANDARD,
            id="empty-proxy-list-is-no-proxy",
        ),
        pytest.param(
            {},
            {"explanation_needed": True},
            Classification("problem", problem_category="explanation_needed"),
            id="explanation-with-all-yes",
        ),
        pytest.param(
            {"surrender_loss_known": "corrected", "address_confirmed": "no"},
            {"explanation_needed": True},
            Classification(
                "problem",
                sub_types=("unclear_cooling_off_surrender",),
                problem_category="explanation_needed",
                address_changed=True,
            ),
            id="explanation-with-corrected",
        ),
        pytest.param(
            {"payment_known": "no"},
            {"explanation_needed": True},
            Classification("problem", sub_types=("unclear_payment_term",), problem_category="misleading_suspected"),
            id="misleading-beats-explanation",
        ),
        pytest.param(
            {"read_documents": "corrected"},
            {"explanation_needed": False},
            Classification("substandard", sub_types=("unclear_coverage",)),
            id="explanation-false-changes-nothing",
        ),
    ],
)
def test_problem_category_precedence(answers_override, details, expected):
    answers = all_yes("participating_regular") | answers_override
    assert run("participating_regular", answers, details=details) == expected


@pytest.mark.parametrize(
    "details",
    [
        {"proxy_signature": ["passport"]},
        {"proxy_signature": "application"},
        {"proxy_signature": {"application": True}},
        {"explanation_needed": "yes"},
        {"data_mismatch": 1},
        {"new_address": ""},
        {"new_address": 42},
        {"agent_note": "x"},
    ],
)
def test_invalid_details_are_rejected(details):
    answers = all_yes("traditional_single") | {"address_confirmed": "no"}
    with pytest.raises(ValueError):
        run("traditional_single", answers, details=details)


def test_unknown_proxy_document_is_named():
    with pytest.raises(ValueError, match="passport"):
        run("traditional_single", all_yes("traditional_single"), details={"proxy_signature": ["passport"]})


# --- address change --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers_override", "expected_cls"),
    [
        ({}, "standard"),
        ({"coverage_known": "corrected"}, "substandard"),
        ({"coverage_known": "no"}, "problem"),
        ({"received_policy": "no"}, "verification"),
    ],
)
def test_address_change_is_recorded_and_does_not_change_the_class(answers_override, expected_cls):
    answers = all_yes("universal_regular") | answers_override | {"address_confirmed": "no"}
    result = run("universal_regular", answers, details={"new_address": "  上海市黄浦区中山东一路1号  "})
    assert result.cls == expected_cls
    assert result.address_changed is True
    assert result.new_address == "上海市黄浦区中山东一路1号"


def test_address_change_without_new_address_is_still_flagged():
    answers = all_yes("traditional_single") | {"address_confirmed": "no"}
    assert run("traditional_single", answers) == Classification("standard", address_changed=True)


def test_new_address_without_address_change_is_rejected():
    with pytest.raises(ValueError, match="new_address"):
        run("traditional_single", all_yes("traditional_single"), details={"new_address": "上海市"})


def test_not_policyholder_never_changes_the_address():
    result = run("traditional_single", {"identity": "no", "address_confirmed": "no"}, details={"new_address": "上海市"})
    assert result == NOT_POLICYHOLDER


# --- the tables themselves -------------------------------------------------------------------


def test_rule_tables_are_consistent():
    assert set(ITEM_SUB_TYPES) <= set(ITEM_KEYS)
    assert {key for key in ITEM_KEYS if key not in ITEM_SUB_TYPES} == {
        "identity",
        "received_policy",
        "address_confirmed",
    }
    assert {sub for subs in ITEM_SUB_TYPES.values() for sub in subs} == set(SUB_TYPES)
    assert len(SUB_TYPES) == 6
    assert set(PRODUCT_TYPES) == {"traditional", "participating", "universal", "investment_linked"}
    assert set(CLASSES) == {"standard", "substandard", "problem", "verification"}
    assert set(PROBLEM_CATEGORIES) == {"misleading_suspected", "explanation_needed", "proxy_signature"}
    assert set(VERIFICATION_REASONS) == {
        "wrong_number",
        "shared_number",
        "refused",
        "data_mismatch",
        "language_barrier",
        "unreachable",
        "contract_not_received",
    }


def test_classification_is_immutable_and_defaults_are_empty():
    result = Classification("standard")
    assert (result.sub_types, result.problem_category, result.verification_reason) == ((), None, None)
    assert (result.address_changed, result.new_address, result.not_policyholder, result.proxy_signature) == (
        False,
        None,
        False,
        (),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.cls = "problem"  # type: ignore[misc]
