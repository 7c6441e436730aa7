"""Channels by name (sms, email, letter, internal); the transport of each is chosen by settings.

``settings.notification_transports`` maps a channel name to ``file`` (default), ``smtp`` or
``sms_http``. Tests and deployments may ``register`` another channel object under a name.
"""

from __future__ import annotations

from collections.abc import Callable

from core.settings import Settings
from notifications.channels.base import (
    Channel,
    ChannelError,
    PermanentChannelError,
    TransientChannelError,
)
from notifications.channels.files import FileChannel
from notifications.channels.sms_http import SmsGatewayChannel
from notifications.channels.smtp import SmtpChannel


def _file(name: str, s: Settings) -> Channel:
    return FileChannel(name, s.outbox_folder)


def _smtp(name: str, s: Settings) -> Channel:
    return SmtpChannel(
        name,
        host=s.smtp_host,
        port=s.smtp_port,
        sender=s.mail_from,
        domain=s.mail_domain,
        starttls=s.smtp_starttls,
        user=s.smtp_user,
        password=s.smtp_password,
        timeout=s.smtp_timeout_seconds,
    )


def _sms_http(name: str, s: Settings) -> Channel:
    return SmsGatewayChannel(name, url=s.sms_gateway_url, token=s.sms_gateway_token, timeout=s.sms_gateway_timeout_seconds)


TRANSPORTS: dict[str, Callable[[str, Settings], Channel]] = {"file": _file, "smtp": _smtp, "sms_http": _sms_http}
_registered: dict[str, Channel] = {}


def register(name: str, channel: Channel | None) -> None:
    """Use ``channel`` for ``name`` instead of the configured transport (None: back to settings)."""
    if channel is None:
        _registered.pop(name, None)
    else:
        _registered[name] = channel


def channel_for(name: str, settings: Settings) -> Channel:
    if name in _registered:
        return _registered[name]
    transport = settings.notification_transports.get(name, "file")
    try:
        return TRANSPORTS[transport](name, settings)
    except KeyError:
        raise PermanentChannelError(f"channel {name!r}: unknown transport {transport!r}") from None


__all__ = [
    "Channel",
    "ChannelError",
    "PermanentChannelError",
    "TransientChannelError",
    "FileChannel",
    "SmtpChannel",
    "SmsGatewayChannel",
    "channel_for",
    "register",
]
