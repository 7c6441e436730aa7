"""SMTP, the real e-mail channel (smtplib).

Idempotency: SMTP has no idempotency key, so the outbox id becomes the Message-ID
(``<outbox-<id>@settings.mail_domain>``) and an ``X-Caseflow-Outbox-Id`` header. A resend after a crash
carries the same Message-ID, which receiving systems and mail clients use to drop the duplicate (the
test server does exactly that). Replies 4xx and connection errors are transient; 5xx are permanent.
"""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from email.utils import formatdate

from notifications.channels.base import PermanentChannelError, TransientChannelError
from notifications.recipients import Address
from notifications.render import Rendered


class SmtpChannel:
    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        domain: str,
        starttls: bool = False,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name, self.host, self.port, self.sender, self.domain = name, host, port, sender, domain
        self.starttls, self.user, self.password, self.timeout = starttls, user, password, timeout

    def message_id(self, key: str) -> str:
        return f"<outbox-{key}@{self.domain}>"

    def build(self, *, key: str, address: Address, rendered: Rendered) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = address.value
        msg["Subject"] = rendered.subject or "Caseflow"
        msg["Message-ID"] = self.message_id(key)
        msg["X-Caseflow-Outbox-Id"] = key
        msg["Date"] = formatdate(localtime=False)
        if rendered.is_html:
            msg.set_content("请使用支持HTML的邮件客户端查看。", charset="utf-8")
            msg.add_alternative(rendered.body, subtype="html", charset="utf-8")
        else:
            msg.set_content(rendered.body, charset="utf-8")
        return msg

    def send(self, *, key: str, address: Address, rendered: Rendered) -> str:
        msg = self.build(key=key, address=address, rendered=rendered)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise PermanentChannelError(f"recipient refused: {exc.recipients}") from None
            raise TransientChannelError(f"recipient deferred: {exc.recipients}") from None
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentChannelError(text) from None
            raise TransientChannelError(text) from None
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise TransientChannelError(f"SMTP {self.host}:{self.port}: {exc}") from None
        return msg["Message-ID"]
