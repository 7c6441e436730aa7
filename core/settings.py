"""One settings object holding every number of a rule (SPEC §2), each with its source.

Override by environment (prefix ``CASEFLOW_``), e.g. ``CASEFLOW_MAX_ATTEMPTS_PER_DAY=4``, or by a
rules file named in ``CASEFLOW_RULES_FILE`` (TOML, same field names).
"""

from __future__ import annotations

import tomllib
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


class CoolingOffRule(BaseModel):
    """A version of the cooling-off rule (犹豫期), effective from a date (SPEC §2.3)."""

    version: str
    effective_from: date
    default_days: int  # product default when the policy names none
    min_days: int  # regulatory floor
    extend_to_next_workday: bool  # 节假日顺延, 民法典 Art. 203


class PenaltyRule(BaseModel):
    """One row of the proxy-signature penalty table (代签字, SPEC §2.10)."""

    case: str  # customer_side | agent_signed | agent_departed
    role: str  # agent | supervisor | manager
    amount_cny: int


class FestivalDay(BaseModel):
    """A festival greeted by the customer-care flow, on this exact day (Asia/Shanghai)."""

    key: str  # spring_festival | mid_autumn | national_day (also the chinese-calendar holiday it lies in)
    name_zh: str
    day: date


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASEFLOW_", env_file=None, extra="ignore")

    # --- infrastructure -------------------------------------------------------------------------
    database_url: str = f"sqlite:///{DATA_DIR / 'caseflow.db'}"
    timezone: str = "Asia/Shanghai"  # SPEC §2.4: stored in UTC, computed in Asia/Shanghai
    drop_folder: Path = DATA_DIR / "inbox"
    outbox_folder: Path = DATA_DIR / "outbox"
    reports_folder: Path = DATA_DIR / "reports"
    rules_file: Path | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    sweep_batch_size: int = 1000
    overdue_explanation_workdays: int = 1  # SPEC §2.8 silent: an overdue order with no written explanation by the end of the next working day goes on the quality list

    # --- §2.1 scope (回访范围) ---------------------------------------------------------------------
    revisit_lines: list[str] = ["life", "health"]  # SPEC §2.1: life or health
    revisit_min_term_years_exclusive: int = 1  # SPEC §2.1: term *over* one year (不含一年)

    # --- §2.2 due date (清单抽取) -----------------------------------------------------------------
    due_days_after_issue_bancassurance: int = 1  # SPEC §2.2: 承保次日
    due_days_after_receipt_entered: int = 1  # SPEC §2.2: 回执回销次日
    due_days_after_issue_without_receipt: int = 15  # SPEC §2.2: issue date + 15 days

    # --- §2.3 cooling-off (犹豫期) ----------------------------------------------------------------
    cooling_off_rules: list[CoolingOffRule] = [
        # SPEC §2.3; 民法典 Art. 201 (start day not counted) and Art. 203 (holiday extension)
        CoolingOffRule(
            version="2021-civil-code",
            effective_from=date(2021, 1, 1),
            default_days=15,
            min_days=10,
            extend_to_next_workday=True,
        )
    ]
    surrender_as_cooling_off_days: int = 7  # SPEC §2.3: 7 days after a late revisit
    cooling_off_near_workdays: int = 2  # SPEC §2.7: ladder planned backwards; "near" = 2 working days left
    cooling_off_near_priority: int = 10  # SPEC §2.7 "escalate priority": a near case goes ahead of every ordinary one in the queue

    # --- §2.7 attempts and appointments --------------------------------------------------------------
    callable_from: time = time(9, 0)  # SPEC §2.7: 09:00–20:00 Asia/Shanghai, every day
    callable_until: time = time(20, 0)
    max_attempts_per_day: int = 3  # SPEC §2.7
    retry_after_no_answer_minutes: int = 120  # SPEC §2.7: no answer → 2 h
    retry_after_busy_minutes: int = 30  # SPEC §2.7: busy → 30 min
    attempt_budget: int = 6  # SPEC §2.7: 6 attempts …
    attempt_budget_days: int = 3  # SPEC §2.7: … over 3 days

    # ladder planned backwards from the cooling-off end (SPEC §2.7 names the rungs, not their lengths;
    # these are the service centre's planning figures, in working days before the cooling-off end)
    ladder_letter_onsite_workdays: int = 3  # a letter/on-site visit needs 3 working days before the end
    ladder_recall_workdays: int = 1
    ladder_phone_recalls: int = 1  # SPEC §2.7: one HQ re-call rung after the branch fixed the contact  # HQ's re-call after the branch fixed the contact needs 1 working day
    queue_claim_minutes: int = 15  # a case handed out by GET /queue/next is held for its agent this long

    # --- §2.8 work orders (工单) -----------------------------------------------------------------
    work_order_due_workdays: dict[str, int] = {
        "failed_followup": 1,  # SPEC §2.8 不成功件
        "verification": 3,  # SPEC §2.8 核实件
        "problem": 3,  # SPEC §2.8 问题件
        "substandard_remark": 3,  # SPEC §2.8 次标准件
        "resign": 5,  # SPEC §2.8 / §2.10 补签
    }

    # --- §2.9 intake checks -------------------------------------------------------------------------
    shared_number_threshold: int = 3  # SPEC §2.9: one phone shared by ≥ 3 policyholders
    phone_digits: int = 11  # SPEC §2.9: mainland mobile numbers have 11 digits

    # --- §2.10 quality (品质管理) -------------------------------------------------------------------
    proxy_signature_penalties: list[PenaltyRule] = [
        PenaltyRule(case="customer_side", role="agent", amount_cny=300),  # SPEC §2.10
        PenaltyRule(case="customer_side", role="supervisor", amount_cny=200),
        PenaltyRule(case="customer_side", role="manager", amount_cny=100),
        PenaltyRule(case="agent_signed", role="agent", amount_cny=1000),
        PenaltyRule(case="agent_departed", role="supervisor", amount_cny=500),
        PenaltyRule(case="agent_departed", role="manager", amount_cny=500),
    ]
    agent_warning_success_rate: float = 80.0  # SPEC §2.10: below 80 % → warning SMS
    agent_investigation_months: int = 3  # SPEC §2.10: three months running → 契约调查

    # --- §2.14 reports and §2.10 agent quality (issue 8) -------------------------------------------
    report_rate_decimals: int = 2  # SPEC §4.1: success_rate is a percentage with two decimals
    report_trend_months: int = 6  # issue 8: the on-time trend chart covers the last 6 months
    report_top_root_causes: int = 3  # SPEC §2.14 "top root causes": how many the summary names
    report_annual_month: int = 12  # SPEC §2.14 / seeds 第二十二条 (二) 年报: 每年12月底 — produced with December's report

    # --- §2.11 claims (理赔回访) -----------------------------------------------------------------
    claim_revisit_due_workdays: int = 5  # SPEC §2.11
    claim_large_amount_cny: int = 100_000  # SPEC §2.11 (configured threshold for a claim adviser)
    claim_problem_response_hours: int = 24  # SPEC §2.11
    claim_problem_solution_hours: int = 48  # SPEC §2.11
    # the claims drop folder: a sub-folder of drop_folder, so the policy intake never reads a claims file
    claims_drop_subfolder: str = "claims"
    # SPEC §2.11 "a claim in progress can be revisited at a configured stage": these stages open one
    claim_revisit_stages: list[str] = ["approved"]
    # SPEC §2.11 care touches: closing day, +7 days, +1 month (calendar days / months, not working days)
    claim_care_week_days: int = 7
    claim_care_months: int = 1
    # SPEC §2.11 "a named claim adviser" for claims above claim_large_amount_cny: user names, the one
    # with the fewest open claim revisits is picked (ties: list order); empty → no owner, flagged
    claim_advisers: list[str] = []
    # claim revisit questionnaire (SPEC §2.11 items, classes as §2.6): satisfaction 1–5; at or below
    # the first → problem (理赔服务不满), at or below the second → sub-standard. SPEC silent on the cut-offs:
    # the service centre's reading of "满意 / 一般 / 不满意" on a five-point scale
    claim_satisfaction_problem_at_most: int = 2
    claim_satisfaction_substandard_at_most: int = 3

    # --- §2.12 complaints (投诉) ---------------------------------------------------------------------
    complaint_ack_hours: int = 24  # SPEC §2.12
    complaint_feedback_workdays: int = 2  # SPEC §2.12
    complaint_reply_days: int = 15  # SPEC §2.12: regulatory limit
    complaint_extension_days: int = 30  # SPEC §2.12: complex → 30 days with notice
    complaint_further_extension_days: int = 30  # SPEC §2.12: especially complex → +30 with approval
    complaint_reopen_escalation: int = 2  # SPEC §2.12: after 2 reopenings → manager
    complaint_warning_fractions: list[float] = [0.5, 0.75]  # issue 5: warnings at 50 % and 75 %

    # --- §2.13 retention ----------------------------------------------------------------------------
    retention_years_electronic: int = 20  # SPEC §2.13
    retention_years_paper: int = 10  # SPEC §2.13
    # SPEC §2.13: recordings are requested by supervisor-level staff or above, with a reason, and approved by
    # the customer-service head (客服负责人) — here the manager role; the requester never approves their own
    recording_request_roles: list[str] = ["supervisor", "manager", "admin"]
    recording_approver_roles: list[str] = ["manager"]

    # --- §5 notifications ---------------------------------------------------------------------------
    outbox_batch_size: int = 200
    outbox_max_attempts: int = 5
    outbox_rate_per_minute: dict[str, int] = {"sms": 600, "email": 300, "letter": 1000, "internal": 1000}

    # --- §6 notifications: sending (issue 6) ----------------------------------------------------------
    # SPEC §6 names no figures; these are operating choices of the service centre, changeable per site.
    outbox_claim_seconds: int = 300  # a claimed row is held this long; a sender that died releases it after (keep it above the time one batch takes to send)
    outbox_backoff_seconds: int = 60  # first retry after a transient channel error; doubles each attempt
    outbox_backoff_max_seconds: int = 3600  # the doubling stops at one hour
    # channel name (as producers queue it) → transport: file (default, writes under outbox_folder and the
    # log), smtp, sms_http. Letters are printed from the folder by the print room.
    notification_transports: dict[str, str] = {"sms": "file", "email": "file", "letter": "file", "internal": "file"}
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "caseflow@service.example.cn"
    mail_domain: str = "service.example.cn"  # Message-ID domain: <outbox-{id}@mail_domain>
    sms_gateway_url: str = "http://127.0.0.1:9090/sms"
    sms_gateway_token: str | None = None
    sms_gateway_timeout_seconds: float = 10.0
    sms_signature: str = "【康泰人寿】"  # 短信签名: carriers require the sender's name in brackets
    # internal addresses (branch:SH01, supervisor:hq, manager:hq, user:li, agent:A0001): an explicit
    # entry wins, otherwise the pattern with {kind} and {code} (lower-cased)
    internal_addresses: dict[str, str] = {}
    internal_address_pattern: str = "{kind}-{code}@service.example.cn"
    letter_return_address: str = "上海市浦东新区世纪大道100号 客户服务中心回访组 收 (邮编 200120)"
    service_hotline: str = "95519"  # SPEC §2.12 hotline, printed on customer messages

    # --- customer care (客户关怀, SPEC §5 customer-care; issue 6) -------------------------------------------
    # Birthday of 29 February in a common year: greeted on 28 February (the last day of February, so the
    # greeting stays in the customer's birthday month; the usual reading of "born on the 29th").
    care_leap_birthday_on_feb_28: bool = True
    # Festival days (the day itself, not the official holiday span). chinese-calendar knows the holiday
    # spans but not the lunar dates, so the days are listed here. Source: 国务院办公厅 holiday notices
    # for 2025/2026 (the festival day lies inside the notified span) and the lunar calendar
    # (春节 = 正月初一, 中秋 = 八月十五); National Day is 10-01 every year.
    care_festivals: list[FestivalDay] = [
        FestivalDay(key="spring_festival", name_zh="春节", day=date(2025, 1, 29)),
        FestivalDay(key="mid_autumn", name_zh="中秋节", day=date(2025, 10, 6)),
        FestivalDay(key="national_day", name_zh="国庆节", day=date(2025, 10, 1)),
        FestivalDay(key="spring_festival", name_zh="春节", day=date(2026, 2, 17)),
        FestivalDay(key="mid_autumn", name_zh="中秋节", day=date(2026, 9, 25)),
        FestivalDay(key="national_day", name_zh="国庆节", day=date(2026, 10, 1)),
        FestivalDay(key="spring_festival", name_zh="春节", day=date(2027, 2, 6)),
        FestivalDay(key="mid_autumn", name_zh="中秋节", day=date(2027, 9, 15)),
        FestivalDay(key="national_day", name_zh="国庆节", day=date(2027, 10, 1)),
        FestivalDay(key="spring_festival", name_zh="春节", day=date(2028, 1, 26)),
        FestivalDay(key="mid_autumn", name_zh="中秋节", day=date(2028, 10, 3)),
        FestivalDay(key="national_day", name_zh="国庆节", day=date(2028, 10, 1)),
    ]

    def cooling_off_rule_for(self, on: date) -> CoolingOffRule:
        """The rule version in force on ``on`` (the newest whose effective date is not after it)."""
        rules = sorted(self.cooling_off_rules, key=lambda r: r.effective_from)
        chosen = rules[0]
        for rule in rules:
            if rule.effective_from <= on:
                chosen = rule
        return chosen

    def cooling_off_rule(self, version: str) -> CoolingOffRule:
        for rule in self.cooling_off_rules:
            if rule.version == version:
                return rule
        raise KeyError(f"unknown cooling-off rule version {version!r}")


def _load_rules_file(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


@lru_cache
def get_settings() -> Settings:
    base = Settings()
    if base.rules_file:
        overrides = _load_rules_file(Path(base.rules_file))
        return Settings(**{**base.model_dump(), **overrides})
    return base


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()


__all__ = ["Settings", "CoolingOffRule", "PenaltyRule", "FestivalDay", "get_settings", "reset_settings", "Field"]
