"""Rendering a notice in the recipient's (or the reader's) language from its stored payload.

Each notice has one template per language, ``templates/notifications/notices/<language>/<audience>/<topic>.jinja``,
written whole by someone fluent in that language rather than assembled from translated fragments. A template sets
three things from the payload:

- ``subject``: one line;
- ``body``: paragraphs separated by blank lines;
- ``facts``: ``(label, value)`` pairs — the amounts, deadlines and references the reader may need to act on.

The per-language layouts turn these into the plain-text and the HTML part of an e-mail (``_text.jinja``,
``_email.jinja``); the inbox page shows the same paragraphs and facts. Money is in won and times in Asia/Seoul,
through the ``won``, ``when`` and ``day`` filters; the names of claim types, remedies, stages and the like are in
each language's ``_macros.jinja``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context

from marketplace.core.money import format_won

LANGUAGES = ("ko", "en")
TEMPLATE_ROOT = "notifications/notices"


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice rendered in one language: what every channel and the inbox are built from."""

    subject: str
    paragraphs: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]
    language: str


@dataclass(frozen=True, slots=True)
class Email:
    """The parts of an e-mail."""

    subject: str
    text: str
    html: str


@pass_context
def _won(context: Any, amount: int | None) -> str:
    if amount is None:
        return "-"
    return format_won(int(amount), context["language"])


# Weekday and month names from the CLDR data Babel ships; the order of the parts is each language's own.
_WEEKDAYS = {
    language: [Locale.parse(language).days["format"]["abbreviated"][day] for day in range(7)] for language in LANGUAGES
}
_MONTHS = {
    language: [Locale.parse(language).months["format"]["abbreviated"][month] for month in range(1, 13)]
    for language in LANGUAGES
}
_DAY_FORMATS = {"ko": "{year}년 {month}월 {day}일({weekday})", "en": "{weekday} {day} {month_name} {year}"}
_TIME_FORMATS = {"ko": "{date} {hour:02d}:{minute:02d}", "en": "{date}, {hour:02d}:{minute:02d} {zone}"}


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _localize(context: Any, value: str | datetime) -> datetime:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(_zone(context["timezone"]))


def _day_text(language: str, local: datetime) -> str:
    return _DAY_FORMATS[language].format(
        year=local.year,
        month=local.month,
        day=local.day,
        weekday=_WEEKDAYS[language][local.weekday()],
        month_name=_MONTHS[language][local.month - 1],
    )


@pass_context
def _day(context: Any, value: str | datetime | None) -> str:
    """A date in the reader's language, in business time: 2026년 9월 25일(금) / Fri 25 Sep 2026."""
    if not value:
        return ""
    return _day_text(context["language"], _localize(context, value))


@pass_context
def _when(context: Any, value: str | datetime | None) -> str:
    """A moment in the reader's language, in business time: 2026년 9월 25일(금) 23:59 / Fri 25 Sep 2026, 23:59 KST."""
    if not value:
        return ""
    language = context["language"]
    local = _localize(context, value)
    return _TIME_FORMATS[language].format(
        date=_day_text(language, local), hour=local.hour, minute=local.minute, zone=local.tzname()
    )


@cache
def _environment(html: bool) -> Environment:
    environment = Environment(  # nosec B701  # autoescape=html, see below
        loader=PackageLoader("marketplace", "templates"),
        # The HTML part escapes every value; the subject and the plain-text part are not HTML.
        autoescape=html,  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the code: no file system check on every render.
        auto_reload=False,
    )
    environment.filters.update(won=_won, when=_when, day=_day)
    return environment


def template_name(language: str, audience: str, topic: str) -> str:
    """Where the template of a notice lives."""
    return f"{TEMPLATE_ROOT}/{language}/{audience}/{topic}.jinja"


def has_template(language: str, audience: str, topic: str) -> bool:
    """Whether a notice of this topic to this audience exists in ``language``."""
    try:
        _environment(False).get_template(template_name(language, audience, topic))
    except LookupError:
        return False
    return True


def render_notice(
    topic: str, audience: str, language: str, payload: dict[str, Any], *, timezone: str = "Asia/Seoul"
) -> Notice:
    """The notice ``topic`` for ``audience`` in ``language``, filled in from ``payload``."""
    language = language if language in LANGUAGES else LANGUAGES[0]
    context = {**payload, "language": language, "timezone": timezone}
    module = _environment(False).get_template(template_name(language, audience, topic)).make_module(context)
    subject = " ".join(str(module.subject).split())
    paragraphs = tuple(" ".join(part.split()) for part in re.split(r"\n\s*\n", str(module.body)) if part.strip())
    facts = tuple((str(label), str(value)) for label, value in module.facts if value not in (None, ""))
    return Notice(subject=subject, paragraphs=paragraphs, facts=facts, language=language)


def render_email(
    notice: Notice, *, recipient_name: str | None, audience: str, public_url: str = "", timezone: str = "Asia/Seoul"
) -> Email:
    """The plain-text and HTML parts of an e-mail carrying ``notice``."""
    context = {
        "notice": notice,
        "recipient_name": recipient_name,
        "audience": audience,
        "inbox_url": f"{public_url}/inbox" if public_url else "",
        "language": notice.language,
        "timezone": timezone,
    }
    text = _environment(False).get_template(f"{TEMPLATE_ROOT}/{notice.language}/_text.jinja").render(context)
    html = _environment(True).get_template(f"{TEMPLATE_ROOT}/{notice.language}/_email.jinja").render(context)
    return Email(subject=notice.subject, text=_tidy(text), html=html)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
