"""What every channel is: ``send(key=, address=, rendered=)``, idempotent on ``key`` (the outbox id)."""

from __future__ import annotations

from typing import Protocol

from notifications.recipients import Address
from notifications.render import Rendered


class ChannelError(Exception):
    """A send that did not happen."""


class TransientChannelError(ChannelError):
    """Worth retrying later (timeout, 4xx SMTP reply, gateway 429/5xx)."""


class PermanentChannelError(ChannelError):
    """Retrying cannot help (address refused, message rejected)."""


class Channel(Protocol):
    name: str

    def send(self, *, key: str, address: Address, rendered: Rendered) -> str:
        """Deliver once per ``key``: a second call with the same key must not deliver again.

        Returns a delivery reference (file path, Message-ID, gateway id) kept on the outbox row.
        """
        ...
