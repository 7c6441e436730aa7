"""Symbolic recipients → channel addresses (the outbox contract of /work/notes/common.md).

* ``policy:<no>`` — the policyholder: phone (sms), postal address (letter); there is no e-mail on a
  policy, so e-mail/internal to a policyholder is refused (a permanent failure, visible in the outbox);
* ``phone:<number>`` — that number (sms only);
* ``agent:<code>`` — the agent's phone (sms), else their internal mailbox;
* ``branch:<code>``, ``supervisor:<branch code | hq>``, ``manager:hq``, ``user:<name>`` — internal
  mailboxes: ``settings.internal_addresses["branch:SH01"]`` when listed, else
  ``settings.internal_address_pattern`` with ``{kind}`` and ``{code}`` lower-cased
  (default ``branch-sh01@service.example.cn``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from core.settings import Settings
from models import Agent, Policy

INTERNAL_KINDS = ("branch", "supervisor", "manager", "user")
LABELS = {"branch": "{code}机构内勤", "supervisor": "{code}主管", "manager": "总部经理", "user": "{code}", "agent": "{code}"}


class UnresolvableRecipient(ValueError):
    """The recipient has no address on this channel; retrying will not help."""


@dataclass(frozen=True)
class Address:
    channel: str
    value: str  # phone number, postal address or e-mail address
    name: str | None = None  # addressee, where the channel shows one (letter envelope)
    label: str = ""  # how an internal notice greets its reader


def parse(recipient: str) -> tuple[str, str]:
    kind, sep, code = recipient.partition(":")
    if not sep or not code:
        raise UnresolvableRecipient(f"recipient {recipient!r} is not of the form kind:code")
    return kind, code


def internal_mailbox(kind: str, code: str, settings: Settings) -> str:
    explicit = settings.internal_addresses.get(f"{kind}:{code}")
    if explicit:
        return explicit
    return settings.internal_address_pattern.format(kind=kind.lower(), code=code.lower())


def label(recipient: str) -> str:
    kind, code = parse(recipient)
    shown = "总部" if code.lower() == "hq" else code.upper() if kind in ("branch", "supervisor") else code
    return LABELS.get(kind, "{code}").format(code=shown)


def resolve(session: Session, *, recipient: str, channel: str, settings: Settings) -> Address:
    """The address of ``recipient`` on ``channel``; raises UnresolvableRecipient when there is none."""
    kind, code = parse(recipient)
    if kind == "policy":
        policy = session.exec(select(Policy).where(Policy.policy_no == code)).first()
        if policy is None:
            raise UnresolvableRecipient(f"no policy {code}")
        if channel == "sms" and policy.holder_phone:
            return Address(channel, policy.holder_phone, policy.holder_name)
        if channel == "letter" and policy.holder_address:
            return Address(channel, policy.holder_address, policy.holder_name)
        raise UnresolvableRecipient(f"policy {code} has no policyholder address for {channel}")
    if kind == "phone":
        if channel != "sms":
            raise UnresolvableRecipient(f"a phone number cannot receive {channel}")
        return Address(channel, code)
    if kind == "agent":
        agent = session.get(Agent, code)
        if agent is None:
            raise UnresolvableRecipient(f"no agent {code}")
        if channel == "sms":
            if not agent.phone:
                raise UnresolvableRecipient(f"agent {code} has no phone")
            return Address(channel, agent.phone, agent.name, agent.name)
        if channel in ("email", "internal"):
            return Address(channel, internal_mailbox(kind, code, settings), agent.name, agent.name)
        raise UnresolvableRecipient(f"an agent cannot receive {channel}")
    if kind in INTERNAL_KINDS:
        if channel not in ("email", "internal"):
            raise UnresolvableRecipient(f"{recipient} is internal: no {channel}")
        return Address(channel, internal_mailbox(kind, code, settings), label=label(recipient))
    raise UnresolvableRecipient(f"unknown recipient kind {kind!r} in {recipient!r}")
