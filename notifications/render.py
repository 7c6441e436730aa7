"""Jinja2 rendering of outbox messages (SPEC §6): one file per template and channel, StrictUndefined.

Files are named ``<template>.<channel>.j2``; a letter is HTML (``<template>.letter.html.j2``) and is
autoescaped. A template may set ``subject`` at top level (``{% set subject = "…" %}``), used by e-mail
and internal notices. A missing context variable raises ``jinja2.UndefinedError`` — never a blank.

Masking (decided for issue 6): customer names are shown masked (``张*``) on every channel that is not
private — SMS (lock-screen previews, numbers shared inside a family: SPEC §2.9 flags shared numbers)
and internal notices. The sealed letter to the policyholder's address is private and shows the name
in full. Agents are staff, not customers: their own warning SMS names them in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from core import clock

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Rendered:
    """A message ready for a channel."""

    subject: str
    body: str
    content_type: str  # text/plain | text/html

    @property
    def is_html(self) -> bool:
        return self.content_type == "text/html"


def mask_name(name: str | None) -> str:
    """``张丽`` → ``张*``, ``欧阳娜娜`` → ``欧***``: the first character and one star per hidden one."""
    if not name:
        return ""
    name = str(name).strip()
    return name[0] + "*" * (len(name) - 1)


def _moment(value: Any) -> datetime | date:
    if isinstance(value, (datetime, date)):
        return value
    text = str(value)
    return datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)


def local_time(value: Any) -> str:
    """An ISO moment (UTC as stored) → ``2026年10月09日 23:59`` in Asia/Shanghai; a date → ``2026年10月09日``."""
    moment = _moment(value)
    if isinstance(moment, datetime):
        return f"{clock.local(moment):%Y年%m月%d日 %H:%M}"
    return f"{moment:%Y年%m月%d日}"


def local_day(value: Any) -> str:
    moment = _moment(value)
    day = clock.local_date(moment) if isinstance(moment, datetime) else moment
    return f"{day:%Y年%m月%d日}"


def percent(value: Any) -> str:
    """A percentage (0–100) → ``75%``, ``1%``, ``72.5%``. Never guesses: ``1.0`` is one per cent."""
    return f"{float(value):.2f}".rstrip("0").rstrip(".") + "%"


def fraction_percent(value: Any) -> str:
    """A fraction (0–1) → a percentage: ``0.75`` → ``75%``; a separate filter so the meaning is explicit."""
    return percent(float(value) * 100)


def month_zh(value: Any) -> str:
    """``2026-09`` → ``2026年09月``."""
    year, _, month = str(value).partition("-")
    return f"{year}年{month}月" if month else str(value)


def tail4(value: Any) -> str:
    """The last four characters of a policy number: enough for the customer, little for anyone else."""
    return str(value)[-4:]


def _autoescape(name: str | None) -> bool:
    return bool(name) and (name.endswith(".html.j2") or name.endswith(".html"))


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=StrictUndefined,
        autoescape=_autoescape,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(mask_name=mask_name, tail4=tail4, month_zh=month_zh, local_time=local_time, local_day=local_day, percent=percent,
                       fraction_percent=fraction_percent)
    return env


def template_file(template: str, channel: str) -> str:
    """The file that renders ``template`` on ``channel`` (HTML first, then plain text)."""
    env = environment()
    # an internal notice is an e-mail to staff: e-mail falls back to the internal text
    channels = (channel, "internal") if channel == "email" else (channel,)
    names = [f"{template}.{ch}{ext}" for ch in channels for ext in (".html.j2", ".j2")]
    for name in names:
        try:
            env.get_template(name)
            return name
        except TemplateNotFound:
            continue
    raise TemplateNotFound(f"{template}.{channel}[.html].j2")


def render(template: str, channel: str, context: dict[str, Any]) -> Rendered:
    """Render one message; ``context`` is the producer's context, enriched (notifications.enrich)."""
    name = template_file(template, channel)
    module = environment().get_template(name).make_module(dict(context))
    body = str(module).strip() + "\n"
    subject = str(getattr(module, "subject", "") or "").strip()
    return Rendered(subject=subject, body=body, content_type="text/html" if _autoescape(name) else "text/plain")


def available_templates() -> list[tuple[str, str]]:
    """(template, channel) for every template file."""
    out = []
    for path in sorted(TEMPLATE_DIR.glob("*.j2")):
        parts = path.name.split(".")
        out.append((parts[0], parts[1]))
    return out
