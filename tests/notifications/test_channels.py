"""Real channels against real servers on loopback: SMTP (aiosmtpd) and an HTTP SMS gateway."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session

from core.settings import Settings
from notifications.channels import SmsGatewayChannel, SmtpChannel
from notifications.outbox import drain
from notifications.recipients import Address
from notifications.render import Rendered
from tests.notifications.helpers import T0, queue, row, settings

NOTICE = {"order_id": 11, "kind": "verification", "case_id": 7, "due_at": "2026-10-09T15:59:59.999999+00:00"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- SMTP ---------------------------------------------------------------------------------------------


class MailDrop:
    """An aiosmtpd handler that keeps one copy per Message-ID, like a mailbox that drops duplicates."""

    def __init__(self) -> None:
        self.received: dict[str, email.message.EmailMessage] = {}
        self.data_commands = 0
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_commands += 1
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.setdefault(str(msg["Message-ID"]), msg)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[MailDrop, int]]:
    handler = MailDrop()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _smtp_settings(port: int) -> Settings:
    return settings(
        notification_transports={"sms": "file", "email": "smtp", "letter": "file", "internal": "smtp"},
        smtp_host="127.0.0.1",
        smtp_port=port,
        internal_addresses={"supervisor:hq": "hq-quality@service.example.cn"},
    )


def test_internal_notices_arrive_as_real_mail(session: Session, smtp_server: tuple[MailDrop, int]) -> None:
    drop, port = smtp_server
    to_branch = queue(session, channel="internal", template="work_order_notice", recipient="branch:SH01", context=NOTICE)
    to_hq = queue(session, channel="internal", template="work_order_notice", recipient="supervisor:hq", context=NOTICE)
    report = drain(as_of=T0, settings=_smtp_settings(port))
    assert report.rows() == [{"channel": "internal", "sent": 2, "retried": 0, "failed": 0, "waiting": 0}]
    assert set(drop.received) == {f"<outbox-{to_branch}@service.example.cn>", f"<outbox-{to_hq}@service.example.cn>"}
    mail = drop.received[f"<outbox-{to_branch}@service.example.cn>"]
    assert mail["To"] == "branch-sh01@service.example.cn"  # the pattern of settings.internal_address_pattern
    assert mail["From"] == "caseflow@service.example.cn"
    assert mail["Subject"] == "【新工单】核实件 #11 回访案件 7"
    assert mail["X-Caseflow-Outbox-Id"] == str(to_branch)
    body = mail.get_content()
    assert body.startswith("SH01机构内勤:") and "处理时限:2026年10月09日 23:59(北京时间)" in body
    hq = drop.received[f"<outbox-{to_hq}@service.example.cn>"]
    assert hq["To"] == "hq-quality@service.example.cn" and hq.get_content().startswith("总部主管:")
    assert row(session, to_branch).delivery_ref == f"<outbox-{to_branch}@service.example.cn>"


def test_a_resent_mail_carries_the_same_message_id(smtp_server: tuple[MailDrop, int]) -> None:
    drop, port = smtp_server
    channel = SmtpChannel("internal", host="127.0.0.1", port=port, sender="caseflow@service.example.cn",
                          domain="service.example.cn")
    address = Address("internal", "branch-sh01@service.example.cn")
    rendered = Rendered(subject="测试", body="正文\n", content_type="text/plain")
    first = channel.send(key="42", address=address, rendered=rendered)
    again = channel.send(key="42", address=address, rendered=rendered)  # a resend after a crash
    assert first == again == "<outbox-42@service.example.cn>"
    assert drop.data_commands == 2 and len(drop.received) == 1  # the receiver drops the duplicate by Message-ID


def test_a_refused_mailbox_fails_permanently(session: Session, smtp_server: tuple[MailDrop, int]) -> None:
    drop, port = smtp_server
    drop.refuse.add("branch-xx99@service.example.cn")
    oid = queue(session, channel="internal", template="work_order_notice", recipient="branch:XX99", context=NOTICE)
    assert drain(as_of=T0, settings=_smtp_settings(port)).total("failed") == 1
    r = row(session, oid)
    assert r.state == "failed" and "550" in r.last_error and not drop.received


def test_an_unreachable_mail_server_is_retried(session: Session) -> None:
    oid = queue(session, channel="internal", template="work_order_notice", recipient="branch:SH01", context=NOTICE)
    s = _smtp_settings(_free_port())  # nothing listens there
    assert drain(as_of=T0, settings=s).total("retried") == 1
    r = row(session, oid)
    assert r.state == "pending" and r.attempts == 1 and r.next_try_at == T0 + timedelta(seconds=s.outbox_backoff_seconds)


# --- SMS gateway --------------------------------------------------------------------------------------


class Gateway:
    """A tiny SMS gateway: honours Idempotency-Key (a repeated key sends nothing and answers the same id)."""

    def __init__(self) -> None:
        self.sent: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.fail_with: int | None = None
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                gateway.requests += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key")
                if gateway.fail_with:
                    self._answer(gateway.fail_with, {"error": "try later" if gateway.fail_with >= 500 else "bad number"})
                    return
                if key not in gateway.sent:
                    gateway.sent[key] = {**body, "id": f"gw-{len(gateway.sent) + 1}"}
                self._answer(200, {"id": gateway.sent[key]["id"]})

            def _answer(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    gw.thread.start()
    try:
        yield gw
    finally:
        gw.server.shutdown()
        gw.server.server_close()


def _sms_settings(gw: Gateway) -> Settings:
    return settings(notification_transports={"sms": "sms_http", "email": "file", "letter": "file", "internal": "file"},
                    sms_gateway_url=gw.url)


def test_sms_goes_through_the_gateway_with_the_outbox_id_as_key(session: Session, gateway: Gateway) -> None:
    oid = queue(session, recipient="phone:13912345678")
    assert drain(as_of=T0, settings=_sms_settings(gateway)).total("sent") == 1
    assert gateway.sent == {
        str(oid): {"to": "13912345678", "id": "gw-1",
                   "text": "【康泰人寿】张*您好,您的投诉(编号31)处理进展:已核实。如有疑问请致电95519。"}
    }
    assert row(session, oid).delivery_ref == "sms:gw-1"
    # a resend under the same key (a sender that died before marking) sends no second SMS
    channel = SmsGatewayChannel("sms", url=gateway.url)
    ref = channel.send(key=str(oid), address=Address("sms", "13912345678"),
                       rendered=Rendered("", "again\n", "text/plain"))
    assert ref == "sms:gw-1" and len(gateway.sent) == 1 and gateway.requests == 2


def test_gateway_busy_is_retried_and_a_rejected_number_fails(session: Session, gateway: Gateway) -> None:
    s = _sms_settings(gateway)
    gateway.fail_with = 503
    busy = queue(session)
    assert drain(as_of=T0, settings=s).total("retried") == 1
    assert "503" in row(session, busy).last_error
    gateway.fail_with = None
    assert drain(as_of=T0 + timedelta(seconds=s.outbox_backoff_seconds), settings=s).total("sent") == 1
    assert row(session, busy).attempts == 2

    gateway.fail_with = 400
    rejected = queue(session, now=T0 + timedelta(minutes=5))
    assert drain(as_of=T0 + timedelta(minutes=5), settings=s).total("failed") == 1
    r = row(session, rejected)
    assert r.state == "failed" and r.last_error.startswith("permanent: SMS gateway 400")
