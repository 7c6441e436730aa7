"""Policy import (SPEC §2.1, §4.1): counts, idempotency, audited changes, rejections, agents, files."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from domain.policies import import_policies, policy_to_dict, read_policy_file
from models import Agent, AuditEntry, Branch, Policy
from tests.factories import T0, policy_payload

ACTOR = "user:tester"


def run(session, records, now=T0):
    return import_policies(session=session, records=records, actor=ACTOR, now=now)


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def policy(session, no: str) -> Policy:
    session.expire_all()
    return session.execute(select(Policy).where(Policy.policy_no == no)).scalars().one()


def audit(session, case_id: int) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.case_kind == "policy", AuditEntry.case_id == case_id)
    return list(session.execute(stmt.order_by(AuditEntry.version)).scalars())


def test_first_import_creates_rows_agents_branches_and_audit(session):
    records = [policy_payload(), policy_payload(agent={"code": "A0002", "branch": "BJ01"})]
    result = run(session, records)

    assert (result.created, result.updated, result.unchanged, result.rejected) == (2, 0, 0, [])
    p = policy(session, records[0]["policy_no"])
    assert p.version == 1 and p.imported_at == T0 and p.updated_at == T0
    assert p.premium == Decimal("6000.00") and p.issue_date == date(2026, 9, 10)
    assert p.holder_phone == records[0]["policyholder"]["phone"] and p.insured_name == "张丽"
    assert (p.agent_code, p.branch_code, p.holder_is_natural_person) == ("A0001", "SH01", True)
    [entry] = audit(session, p.id)
    assert (entry.version, entry.event, entry.source, entry.target, entry.actor) == (
        1, "imported", "imported", "imported", ACTOR
    )
    assert {b.code for b in session.execute(select(Branch)).scalars()} == {"SH01", "BJ01"}
    assert session.get(Agent, "A0002").branch_code == "BJ01"


def test_identical_reimport_is_unchanged_and_writes_nothing(session):
    records = [policy_payload(), policy_payload()]
    run(session, records)
    # same data in another spelling: premium without decimals, surrounding blanks, extra fields
    again = [dict(records[0], premium="6000", client_ref="x"), dict(records[1], product_code=" END-20 ")]
    result = run(session, again, now=T0 + timedelta(days=1))

    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    p = policy(session, records[0]["policy_no"])
    assert p.version == 1 and p.updated_at == T0
    assert count(session, AuditEntry) == 2


def test_changed_reimport_updates_bumps_version_and_audits_the_diff(session):
    record = policy_payload()
    run(session, [record])
    later = T0 + timedelta(days=2)
    changed = policy_payload(
        policy_no=record["policy_no"], premium="6500.5", policyholder={"phone": "13911112222"},
        receipt_entered_date="2026-09-18",
    )  # fmt: skip
    result = run(session, [changed], now=later)

    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    p = policy(session, record["policy_no"])
    assert p.version == 2 and p.updated_at == later and p.imported_at == T0
    assert p.premium == Decimal("6500.50") and p.holder_phone == "13911112222"
    first, second = audit(session, p.id)
    assert (second.version, second.event, second.actor, second.at) == (2, "reimported", ACTOR, later)
    old_phone = record["policyholder"]["phone"]
    # the factory numbers phones per call, so the insured's phone differs between the two payloads too
    assert second.payload["changed"] == {
        "premium": ["6000.00", "6500.50"],
        "holder_phone": [old_phone, "13911112222"],
        "insured_phone": [old_phone, changed["insured"]["phone"]],
        "receipt_entered_date": ["2026-09-17", "2026-09-18"],
    }
    # importing the changed data once more is a no-op
    assert run(session, [changed], now=later + timedelta(hours=1)).unchanged == 1
    assert policy(session, record["policy_no"]).version == 2


def test_invalid_records_are_rejected_with_reasons_while_valid_ones_land(session):
    good = policy_payload()
    bad_line = policy_payload(line="property", premium="-1")
    bad_dates = policy_payload(receipt_signed_date="2026-09-01", receipt_entered_date="2026-08-31")
    no_holder = policy_payload()
    del no_holder["policyholder"]
    numeric_phone = policy_payload(policyholder={"phone": 13800000001}, cooling_off_days=0)
    result = run(session, [good, bad_line, bad_dates, no_holder, numeric_phone, "not a policy"])

    assert result.created == 1
    by_index = {r["index"]: r for r in result.rejected}
    assert sorted(by_index) == [1, 2, 3, 4, 5]
    fields = {i: {e["field"] for e in r["errors"]} for i, r in by_index.items()}
    assert fields[1] == {"line", "premium"}
    assert fields[2] == {"receipt_signed_date"}  # entered vs signed is not checked against a refused date
    assert "before issue_date" in by_index[2]["errors"][0]["message"]
    assert fields[3] == {"policyholder"}
    assert fields[4] == {"policyholder.phone", "cooling_off_days"}
    assert by_index[1]["policy_no"] == bad_line["policy_no"] and by_index[5]["policy_no"] is None
    assert "JSON object" in by_index[5]["errors"][0]["message"]
    assert count(session, Policy) == 1


def test_entered_before_signed_is_rejected(session):
    result = run(session, [policy_payload(receipt_entered_date="2026-09-15")])
    assert result.created == 0
    assert [e["field"] for e in result.rejected[0]["errors"]] == ["receipt_entered_date"]


def test_malformed_phone_string_is_accepted_for_intake_to_flag(session):
    record = policy_payload(policyholder={"phone": "1380000"}, insured={"phone": ""})
    assert run(session, [record]).created == 1
    p = policy(session, record["policy_no"])
    assert (p.holder_phone, p.insured_phone) == ("1380000", None)  # blank means "not given"


def test_optional_fields_may_be_missing(session):
    record = policy_payload(cooling_off_days=None, print_date=None, payment_years=None)
    for key in ("insured", "special_revisit", "receipt_signed_date", "receipt_entered_date"):
        del record[key]
    record["agent"] = {"code": "A0009", "name": "李四", "branch": "SH02"}
    assert run(session, [record]).created == 1
    p = policy(session, record["policy_no"])
    assert p.insured_name is None and p.cooling_off_days is None and p.special_revisit is False
    assert session.get(Agent, "A0009").active is True


def test_duplicate_in_one_batch_counts_as_if_imported_one_after_the_other(session):
    first = policy_payload()
    same = dict(first)
    changed = dict(first, premium="7000.00")
    result = run(session, [first, same, changed])

    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    p = policy(session, first["policy_no"])
    assert p.premium == Decimal("7000.00") and p.version == 2  # the later record wins
    entries = audit(session, p.id)
    assert [(e.version, e.event) for e in entries] == [(1, "imported"), (2, "reimported")]
    assert entries[1].payload == {"changed": {"premium": ["6000.00", "7000.00"]}}


def test_agents_are_upserted_by_code(session):
    run(session, [policy_payload()])
    moved = policy_payload(agent={"phone": "13900000009", "supervisor_code": "S02", "active": False})
    result = run(session, [moved])
    assert result.created == 1
    session.expire_all()
    agent = session.get(Agent, "A0001")
    assert (agent.phone, agent.supervisor_code, agent.active, agent.name) == ("13900000009", "S02", False, "王强")
    assert count(session, Agent) == 1 and count(session, Branch) == 1


def test_nothing_valid_writes_nothing(session):
    result = run(session, [policy_payload(term_years=0), {}])
    assert result.created == result.updated == result.unchanged == 0 and len(result.rejected) == 2
    assert count(session, Policy) == count(session, Agent) == count(session, AuditEntry) == 0


def test_many_records_in_chunks(session):
    records = [policy_payload(policy_no=f"Q{i:07d}") for i in range(2500)]
    assert run(session, records).created == 2500
    records[1700] = dict(records[1700], special_revisit=True)
    result = run(session, records)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2499)
    assert count(session, AuditEntry) == 2501
    assert policy(session, "Q0001700").special_revisit is True


def test_policy_to_dict_gives_the_contract_shape(session):
    record = policy_payload()
    run(session, [record])
    p = policy(session, record["policy_no"])
    body = policy_to_dict(p, session.get(Agent, p.agent_code))
    for key in ("policyholder", "insured", "agent"):
        assert body[key] == record[key]
    for key, value in record.items():
        assert body[key] == value, key
    assert body["version"] == 1


# --- the drop folder ----------------------------------------------------------------------------------


def test_read_json_list_and_object(tmp_path):
    records = [policy_payload(), policy_payload()]
    (tmp_path / "many.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "one.json").write_text(json.dumps(records[0]), encoding="utf-8")
    assert read_policy_file(tmp_path / "many.json") == records
    assert read_policy_file(tmp_path / "one.json") == [records[0]]


CSV_HEADER = (
    "policy_no,product_code,product_type,line,term_years,channel,premium,payment_mode,payment_years,"
    "cooling_off_days,issue_date,print_date,receipt_signed_date,receipt_entered_date,special_revisit,"
    "policyholder.name,policyholder.gender,policyholder.birth_date,policyholder.id_number,policyholder.phone,"
    "policyholder.address,insured.name,insured.phone,agent.code,agent.name,agent.phone,agent.branch,"
    "agent.supervisor_code,agent.manager_code,agent.active"
)


def test_read_csv_maps_dotted_headers_and_imports(session, tmp_path):
    rows = [
        "C0000001,END-20,participating,life,20,agency,6000.00,annual,10,15,2026-09-10,2026-09-10,2026-09-16,"
        "2026-09-17,false,张丽,F,1980-03-02,310101198003020021,13800000001,上海市,张丽,13800000001,A0001,王强,"
        "13900000001,SH01,S01,M01,true",
        "C0000002,WL-1,traditional,health,5,bancassurance,1200,monthly,,,2026-09-11,,,,0,李雷,,,,01380000002,,,,"
        "A0002,韩梅,,SH02,,,1",
    ]
    path = tmp_path / "drop.csv"
    path.write_bytes(("\n".join([CSV_HEADER, *rows]) + "\n").encode("utf-8-sig"))  # Excel writes a BOM
    records = read_policy_file(path)

    assert records[0]["policyholder"]["phone"] == "13800000001"
    assert records[0]["agent"] == {
        "code": "A0001", "name": "王强", "phone": "13900000001", "branch": "SH01",
        "supervisor_code": "S01", "manager_code": "M01", "active": "true",
    }  # fmt: skip
    assert "insured" not in records[1] and "payment_years" not in records[1]  # blank cells are absent
    assert records[1]["policyholder"]["phone"] == "01380000002"  # a string keeps its leading zero
    result = run(session, records)
    assert (result.created, result.rejected) == (2, [])
    assert policy(session, "C0000002").insured_name is None


def test_read_csv_in_gb18030(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("policy_no,policyholder.name\nX1,张丽\n".encode("gb18030"))
    assert read_policy_file(path) == [{"policy_no": "X1", "policyholder": {"name": "张丽"}}]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.json", b"[{", "not valid JSON"),
        ("scalar.json", b"42", "expected a JSON list"),
        ("noheader.csv", b"", "header row"),
        ("wrongheader.csv", b"a,b\n1,2\n", "header row"),
        ("policies.xlsx", b"PK", "unsupported file type"),
        ("missing.json", None, "cannot read"),
    ],
)
def test_unreadable_files_raise_value_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_policy_file(path)
    assert name in str(info.value)


@pytest.mark.postgres
def test_import_and_reimport_on_postgres(pg_session):
    records = [policy_payload(policy_no=f"G{i:07d}") for i in range(1500)]
    assert run(pg_session, records).created == 1500
    records[3] = dict(records[3], premium="1.00")
    result = run(pg_session, records + [records[3]])
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1500)
    p = policy(pg_session, "G0000003")
    assert p.version == 2 and p.premium == Decimal("1.00")
    assert [e.event for e in audit(pg_session, p.id)] == ["imported", "reimported"]
    # the first row is written by INSERT … SELECT with its payload built in SQL: the same shape as on SQLite
    first = audit(pg_session, p.id)[0]
    assert (first.version, first.payload, first.source, first.target) == (1, {"policy_no": "G0000003"},
                                                                          "imported", "imported")
    # a number new in a batch and changed later in the same batch: imported v1, reimported v2
    fresh = policy_payload(policy_no="G9999999")
    assert run(pg_session, [fresh, dict(fresh, premium="2.00")]).created == 1
    assert [(e.version, e.event) for e in audit(pg_session, policy(pg_session, "G9999999").id)] == [
        (1, "imported"), (2, "reimported")
    ]


def test_values_the_database_cannot_hold_are_rejected_not_crashing(session):
    records = [policy_payload(term_years=10**30), policy_payload(policyholder={"name": "a\x00b"})]
    result = run(session, records)
    assert [[e["field"] for e in r["errors"]] for r in result.rejected] == [["term_years"], ["policyholder.name"]]
