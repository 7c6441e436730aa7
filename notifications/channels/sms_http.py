"""SMS through an HTTP gateway (httpx): ``POST <url>`` with JSON ``{"to", "text"}``.

The outbox id is sent as the ``Idempotency-Key`` header; the gateway answers the first request and
repeats (or 409s) any later one with the same key without sending a second SMS. 2xx and 409 are
delivered; 408/429/5xx and network errors are transient; any other 4xx is permanent.
"""

from __future__ import annotations

import httpx

from notifications.channels.base import PermanentChannelError, TransientChannelError
from notifications.recipients import Address
from notifications.render import Rendered


class SmsGatewayChannel:
    def __init__(self, name: str, *, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.name, self.url, self.token, self.timeout = name, url, token, timeout

    def send(self, *, key: str, address: Address, rendered: Rendered) -> str:
        headers = {"Idempotency-Key": key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            resp = httpx.post(
                self.url, json={"to": address.value, "text": rendered.body.strip()}, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise TransientChannelError(f"SMS gateway: {exc.__class__.__name__}: {exc}") from None
        if resp.is_success or resp.status_code == 409:
            try:
                ref = str(resp.json().get("id", key))
            except ValueError:
                ref = key
            return f"sms:{ref}"
        text = f"SMS gateway {resp.status_code}: {resp.text[:200]}"
        if resp.status_code in (408, 429) or resp.status_code >= 500:
            raise TransientChannelError(text)
        raise PermanentChannelError(text)
