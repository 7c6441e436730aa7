"""Every template rendered against a fixed context and compared with its golden text (SPEC §6)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from jinja2 import UndefinedError
from sqlmodel import Session

from core.settings import get_settings
from notifications.enrich import enrich
from notifications.recipients import resolve
from notifications.render import available_templates, fraction_percent, mask_name, percent, render
from tests.factories import make_policy, make_revisit

BASE = {"signature": "【康泰人寿】", "hotline": "95519", "recipient_label": "SH01机构内勤"}
DUE = "2026-10-09T15:59:59.999999+00:00"  # end of Fri 2026-10-09 in Asia/Shanghai

# (template, channel) → (context, subject, body)
GOLDEN: dict[tuple[str, str], tuple[dict, str, str]] = {
    ("appointment_confirmation", "sms"): (
        {"case_id": 7, "policy_no": "P2026000123", "appointment_at": "2026-09-30T06:30:00+00:00"},
        "",
        "【康泰人寿】尊敬的客户:您尾号0123的保单回访已预约在2026年09月30日 14:30,届时我们将致电投保人本人核实投保情况,"
        "请保持电话畅通。如需改约请致电95519。",
    ),
    ("work_order_notice", "internal"): (
        {"order_id": 11, "kind": "verification", "case_id": 7, "due_at": DUE},
        "【新工单】核实件 #11 回访案件 7",
        "SH01机构内勤:\n\n总部回访中心向贵机构下发工单,请在时限内处理并在系统中登记结果。\n\n工单编号:11\n工单类型:核实件\n"
        "回访案件:7\n处理时限:2026年10月09日 23:59(北京时间)\n\n逾期未处理的工单将列入品质管理清单。",
    ),
    ("work_order_overdue", "internal"): (
        {"order_id": 11, "kind": "problem", "case_id": 7, "branch": "SH01", "due_at": DUE},
        "【工单逾期】SH01 问题件 #11",
        "SH01机构内勤:\n\n以下工单已超过处理时限仍未完成,请督促机构立即处理,并提交书面逾期说明。\n\n机构:SH01\n工单编号:11\n"
        "工单类型:问题件\n回访案件:7\n处理时限:2026年10月09日 23:59(北京时间)",
    ),
    ("revisit_escalation", "internal"): (
        {"case_id": 7, "policy_no": "P2026000123", "branch": "SH01", "reason": "电话回访未成功,转信函回访",
         "cooling_off_end": "2026-10-08"},
        "【回访升级】保单 P2026000123 案件 7",
        "SH01机构内勤:\n\n以下新契约回访案件已升级,请关注并安排处理。\n\n机构:SH01\n回访案件:7\n保单号:P2026000123\n"
        "升级原因:电话回访未成功,转信函回访\n犹豫期截止:2026年10月08日",
    ),
    ("revisit_late", "internal"): (
        {"case_id": 7, "policy_no": "P2026000123", "branch": "SH01", "cooling_off_end": "2026-10-08"},
        "【犹豫期后回访】保单 P2026000123 案件 7",
        "SH01机构内勤:\n\n以下新契约回访案件在犹豫期内未能完成回访,已计入犹豫期外回访。按规定,客户在回访完成后仍可享有解除合同的权利,"
        "请督促机构尽快完成回访。\n\n机构:SH01\n回访案件:7\n保单号:P2026000123\n犹豫期截止:2026年10月08日",
    ),
    ("callback_reminder", "internal"): (
        {"case_id": 7, "policy_no": "P2026000123", "appointment_at": "2026-09-30T06:30:00+00:00", "owner": "李娜"},
        "【预约回访提醒】案件 7 2026年09月30日 14:30",
        "李娜:\n\n您有一通预约回访即将到期,请按时致电客户。\n\n回访案件:7\n保单号:P2026000123\n"
        "预约时间:2026年09月30日 14:30(北京时间)",
    ),
    ("complaint_ack", "sms"): (
        {"complaint_id": 31, "complainant_name": "张丽", "reply_due_at": "2026-10-14T15:59:59.999999+00:00"},
        "",
        "【康泰人寿】张*您好,您的投诉(编号31)已受理。我们将安排专人处理,并于2026年10月14日前答复您。如有疑问请致电95519。",
    ),
    ("complaint_progress", "sms"): (
        {"complaint_id": 31, "complainant_name": "张丽", "note": "已联系业务员核实"},
        "",
        "【康泰人寿】张*您好,您的投诉(编号31)处理进展:已联系业务员核实。如有疑问请致电95519。",
    ),
    ("complaint_result", "sms"): (
        {"complaint_id": 31, "complainant_name": "张丽", "result": "已为您办理全额退保"},
        "",
        "【康泰人寿】张*您好,您的投诉(编号31)已处理完毕,处理结果:已为您办理全额退保。如对结果有异议,请致电95519。",
    ),
    ("complaint_warning", "internal"): (
        {"complaint_id": 31, "clock": "reply", "percent": 75, "due_at": "2026-10-14T15:59:59.999999+00:00",
         "owner": "李娜"},
        "【投诉时限预警】投诉 31 投诉答复(15日) 已用 75%",
        "李娜:\n\n您负责的投诉时限已用去75%,请及时处理。\n\n投诉编号:31\n时限:投诉答复(15日)\n"
        "到期时间:2026年10月14日 23:59(北京时间)",
    ),
    ("complaint_escalation", "internal"): (
        {"complaint_id": 31, "clock": "ack", "due_at": "2026-09-30T02:00:00+00:00", "owner": "李娜",
         "reason": "24小时内未确认受理"},
        "【投诉升级】投诉 31 受理确认(24小时)",
        "SH01机构内勤:\n\n以下投诉已升级,请督办。\n\n投诉编号:31\n时限:受理确认(24小时)\n"
        "到期时间:2026年09月30日 10:00(北京时间)\n首问责任人:李娜\n升级原因:24小时内未确认受理",
    ),
    ("agent_warning", "sms"): (
        {"agent_code": "A0001", "agent_name": "王强", "month": "2026-09", "success_rate": 72.5, "threshold": 80.0},
        "",
        "【康泰人寿】王强(A0001):您2026年09月的新契约回访成功率为72.5%,低于80%的要求。请加强销售过程规范,"
        "持续低于要求将启动契约调查。",
    ),
    ("birthday_greeting", "sms"): (
        {"customer_name": "张丽"},
        "",
        "【康泰人寿】亲爱的张*,今天是您的生日,祝您生日快乐、身体健康、阖家幸福!感谢您一直以来的信任与支持。退订回T",
    ),
    ("festival_greeting", "sms"): (
        {"customer_name": "欧阳娜娜", "festival": "中秋节"},
        "",
        "【康泰人寿】亲爱的欧***,值此中秋节之际,祝您节日快乐、平安顺遂、阖家幸福!感谢您一直以来的信任与支持。退订回T",
    ),
    ("claim_care", "sms"): (
        {"claim_no": "C2026000001", "customer_name": "张丽", "touch": "week1"},
        "",
        "【康泰人寿】张*您好,理赔结案一周之际,我们关心您的身体和生活情况。您的理赔案件(编号C2026000001)如有任何疑问或需要帮助,"
        "请致电95519。祝您早日康复、一切安好!",
    ),
}


# contract keys a template deliberately does not print (an internal case id means nothing to a customer)
NOT_PRINTED = {("appointment_confirmation", "sms"): {"case_id"}}


def test_every_template_file_has_a_golden_test() -> None:
    files = set(available_templates())
    assert files == set(GOLDEN) | {("revisit_letter", "letter")}


@pytest.mark.parametrize("key", sorted(GOLDEN), ids=lambda k: f"{k[0]}.{k[1]}")
def test_golden_text(key: tuple[str, str]) -> None:
    context, subject, body = GOLDEN[key]
    rendered = render(key[0], key[1], {**BASE, **context})
    assert rendered.subject == subject
    assert rendered.body == body + "\n"
    assert rendered.content_type == "text/plain"


@pytest.mark.parametrize("key", sorted(GOLDEN), ids=lambda k: f"{k[0]}.{k[1]}")
def test_every_context_key_of_the_contract_is_required(key: tuple[str, str]) -> None:
    """StrictUndefined: leave out any one key of the contract and the render fails, naming it."""
    context, _, _ = GOLDEN[key]
    for missing in set(context) - NOT_PRINTED.get(key, set()):
        partial = {k: v for k, v in context.items() if k != missing}
        with pytest.raises(UndefinedError, match=missing):
            render(key[0], key[1], {**BASE, **partial})


def test_plain_text_is_not_html_escaped() -> None:
    context = {"complaint_id": 31, "complainant_name": "张丽", "note": "A&B <已核实>"}
    assert "A&B <已核实>" in render("complaint_progress", "sms", {**BASE, **context}).body


def test_customer_names_are_masked_one_star_per_hidden_character() -> None:
    assert mask_name("张丽") == "张*"
    assert mask_name("张三丰") == "张**"
    assert mask_name("李") == "李"
    assert mask_name("") == ""


def test_percent_never_guesses_a_fraction() -> None:
    """`percent` is for percentages: 1.0 is one per cent, 0.5 half a per cent; fractions have their own filter."""
    assert percent(1.0) == "1%" and percent(0.5) == "0.5%" and percent(50) == "50%" and percent(72.35) == "72.35%"
    assert fraction_percent(0.5) == "50%" and fraction_percent(1.0) == "100%"


def test_agent_warning_at_one_per_cent_says_one_per_cent() -> None:
    """An agent with a 1.0 % success rate (the producer passes rate() percentages) is told 1 %, not 100 %."""
    context = {"agent_code": "A0001", "agent_name": "王强", "month": "2026-09", "success_rate": 1.0, "threshold": 80.0}
    assert "成功率为1%,低于80%" in render("agent_warning", "sms", {**BASE, **context}).body
    context["success_rate"] = 0.5
    assert "成功率为0.5%,低于80%" in render("agent_warning", "sms", {**BASE, **context}).body


# --- the letter questionnaire (书面问卷) -------------------------------------------------------------


def _letter(session: Session, **policy: object) -> str:
    settings = get_settings()
    p = make_policy(session, **{"holder_address": "上海市浦东新区世纪大道1号", **policy})
    case = make_revisit(session, policy=p, cooling_off_end=date(2026, 10, 8))
    recipient = f"policy:{p.policy_no}"
    address = resolve(session, recipient=recipient, channel="letter", settings=settings)
    context = enrich(session, template="revisit_letter", recipient=recipient,
                     context={"case_id": case.id, "policy_no": p.policy_no}, address=address, settings=settings)
    rendered = render("revisit_letter", "letter", context)
    assert rendered.content_type == "text/html"
    assert rendered.subject == f"新契约回访书面问卷 保单{p.policy_no}"
    return rendered.body


def _questions(html: str) -> list[str]:
    return re.findall(r"<tr><td>\d+</td><td>(.*?)</td>", html)


def test_letter_for_a_regular_premium_participating_policy_asks_all_ten_items(session: Session) -> None:
    html = _letter(session, product_type="participating", payment_mode="annual", holder_name="张丽")
    questions = _questions(html)
    assert len(questions) == 10
    assert questions[0] == "您好,请问您是投保人本人吗?"
    assert questions[7] == "您是否清楚本保单的缴费年限和缴费方式(缴费频率)?"
    assert questions[8].startswith("您是否了解本产品超过保证部分的收益")
    assert "万能账户" not in html
    assert "2026年10月08日" in html  # the cooling-off end of the case
    assert "张丽 先生/女士 收" in html  # the sealed letter is private: the name in full
    # the return slip: to be signed and sent back with a copy of the ID (SPEC §2.7)
    slip = html.split('<section class="slip">', 1)[1]
    assert "投保人签名" in slip and "身份证件复印件" in slip and "客户服务中心回访组" in slip


def test_letter_for_a_single_premium_traditional_policy_leaves_out_payment_and_returns(session: Session) -> None:
    questions = _questions(_letter(session, product_type="traditional", payment_mode="single"))
    assert len(questions) == 8
    assert not any("缴费年限" in q for q in questions)
    assert not any("保证部分的收益" in q for q in questions)


def test_letter_for_a_universal_policy_adds_the_fee_question(session: Session) -> None:
    questions = _questions(_letter(session, product_type="universal", payment_mode="single"))
    assert len(questions) == 9
    assert "万能账户的费用扣除项目" in questions[7]


def test_letter_escapes_html_in_customer_data(session: Session) -> None:
    html = _letter(session, holder_name="<script>alert(1)</script>", holder_address="A & B <b>路</b>")
    assert "<script>" not in html and "<b>路" not in html
    assert "A &amp; B &lt;b&gt;路&lt;/b&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_letter_golden_page() -> None:
    """The whole printable page for a universal regular-premium policy, as reviewed (golden/)."""
    import json
    from pathlib import Path

    golden = Path(__file__).parent / "golden"
    context = json.loads((golden / "revisit_letter.context.json").read_text(encoding="utf-8"))
    rendered = render("revisit_letter", "letter", context)
    assert rendered.body == (golden / "revisit_letter.letter.html").read_text(encoding="utf-8")
    with pytest.raises(UndefinedError, match="return_address"):
        render("revisit_letter", "letter", {k: v for k, v in context.items() if k != "return_address"})


def test_claim_letter_golden_page() -> None:
    """A claim revisit by letter: the claim satisfaction questionnaire (SPEC §2.11), as reviewed (golden/)."""
    import json
    from pathlib import Path

    golden = Path(__file__).parent / "golden"
    context = json.loads((golden / "revisit_letter_claim.context.json").read_text(encoding="utf-8"))
    rendered = render("revisit_letter", "letter", context)
    assert rendered.subject == "理赔回访书面问卷 赔案C2026000001" and rendered.content_type == "text/html"
    assert rendered.body == (golden / "revisit_letter_claim.letter.html").read_text(encoding="utf-8")
    with pytest.raises(UndefinedError, match="claim_no"):
        render("revisit_letter", "letter", {k: v for k, v in context.items() if k != "claim_no"})


def test_a_claim_revisit_is_sent_the_claim_questionnaire_not_the_new_contract_one(session: Session) -> None:
    from domain.claim_classification import ITEMS, QUESTIONS_ZH
    from domain.claim_import import import_claims
    from tests.factories import T0, claim_payload

    settings = get_settings()
    p = make_policy(session, holder_address="上海市浦东新区世纪大道1号", holder_name="张丽")
    import_claims(session=session, records=[claim_payload(p.policy_no, claim_no="C77", closed_date="2026-09-29")],
                  now=T0, actor="flow:claims")
    case = make_revisit(session, policy=p, kind="claim", claim_no="C77", cooling_off_end=None)
    session.commit()
    recipient = f"policy:{p.policy_no}"
    address = resolve(session, recipient=recipient, channel="letter", settings=settings)
    context = enrich(session, template="revisit_letter", recipient=recipient,
                     context={"case_id": case.id, "policy_no": p.policy_no}, address=address, settings=settings)
    rendered = render("revisit_letter", "letter", context)
    assert rendered.subject == "理赔回访书面问卷 赔案C77"
    assert _questions(rendered.body) == [QUESTIONS_ZH[k] for k in ITEMS]
    assert "新契约" not in rendered.body and "犹豫期" not in rendered.body


def test_email_uses_the_internal_text_and_an_unknown_channel_has_no_template() -> None:
    from jinja2 import TemplateNotFound

    context, subject, body = GOLDEN[("revisit_late", "internal")]
    rendered = render("revisit_late", "email", {**BASE, **context})
    assert (rendered.subject, rendered.body) == (subject, body + "\n")
    with pytest.raises(TemplateNotFound):
        render("revisit_late", "sms", {**BASE, **context})
