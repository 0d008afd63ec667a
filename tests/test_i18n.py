"""Every text a person reads exists in Korean and English."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "marketplace" / "translations" / "ko" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def _source_messages() -> set[str]:
    messages = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "marketplace", METHODS, keywords=KEYWORDS
    ):
        messages.add(message if isinstance(message, str) else message[0])
    return messages


def _key(message_id: str | tuple[str, ...]) -> str:
    """A message's singular source text (plural messages carry both forms)."""
    return message_id if isinstance(message_id, str) else message_id[0]


def _strings(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A translation as a tuple of its forms (one for a singular message; Korean has one plural form)."""
    return (value,) if isinstance(value, str) else tuple(value)


def test_every_source_text_has_a_korean_translation() -> None:
    """No text in code or templates is missing from the Korean catalogue, and none is left fuzzy."""
    catalog = read_po(io.BytesIO((CATALOG / "messages.po").read_bytes()))
    translated = {_key(m.id): m for m in catalog if m.id}
    missing = sorted(m for m in _source_messages() if m not in translated or not all(_strings(translated[m].string)))
    fuzzy = sorted(m.id for m in catalog if m.id and m.fuzzy)
    assert missing == [], f"run scripts/i18n and translate: {missing}"
    assert fuzzy == []


def test_compiled_catalogue_matches_the_po_file() -> None:
    """The .mo the app loads holds exactly the .po's translations (scripts/i18n compiles it)."""
    po = read_po(io.BytesIO((CATALOG / "messages.po").read_bytes()))
    mo = read_mo(io.BytesIO((CATALOG / "messages.mo").read_bytes()))
    assert {_key(m.id): _strings(m.string) for m in po if m.id} == {_key(m.id): _strings(m.string) for m in mo if m.id}


def test_placeholders_survive_translation() -> None:
    """A translation keeps every %(name)s of its source text."""
    import re

    catalog = read_po(io.BytesIO((CATALOG / "messages.po").read_bytes()))
    for message in catalog:
        if message.id:
            expected = sorted(re.findall(r"%\(\w+\)\w", _key(message.id)))
            for form in _strings(message.string):
                assert sorted(re.findall(r"%\(\w+\)\w", form)) == expected, message.id
