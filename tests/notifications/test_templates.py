"""Every notice exists in Korean and English, renders from what the subscribers store, and reads right."""

from __future__ import annotations

import re

import pytest

from marketplace.notifications.notices import RULES
from marketplace.notifications.rendering import LANGUAGES, has_template, render_email, render_notice
from tests.notifications.samples import SAMPLES

HANGUL = re.compile(r"[\uac00-\ud7a3]")
NOTICES = sorted({(rule.audience.value, topic) for topic, rules in RULES.items() for rule in rules})


@pytest.mark.parametrize(("audience", "topic"), NOTICES)
def test_every_notice_has_a_template_in_each_language(audience: str, topic: str) -> None:
    """A rule that writes a notice has its template in Korean and in English, and a sample to test it with."""
    assert [language for language in LANGUAGES if not has_template(language, audience, topic)] == []
    assert any(key[:2] == (audience, topic) for key in SAMPLES)


@pytest.mark.parametrize("key", sorted(SAMPLES), ids=lambda key: ":".join(filter(None, key)))
def test_notice_renders_in_korean_and_english(key: tuple[str, str, str]) -> None:
    """Subject, paragraphs and facts come out in each language: Korean in Hangul, English without it."""
    audience, topic, _variant = key
    payload = SAMPLES[key]
    korean = render_notice(topic, audience, "ko", payload)
    english = render_notice(topic, audience, "en", payload)
    for notice in (korean, english):
        assert notice.subject and notice.paragraphs and notice.facts
        assert "\n" not in notice.subject
    assert HANGUL.search(korean.subject) and HANGUL.search(korean.paragraphs[0])
    # English text has no Hangul of its own; only values given in Korean (names, reasons, incident texts) may.
    korean_values = {str(value) for value in payload.values() if isinstance(value, str) and HANGUL.search(value)}
    english_text = " ".join((english.subject, *english.paragraphs))
    for value in korean_values:
        english_text = english_text.replace(value, "")
    assert not HANGUL.search(english_text), english_text


def test_claim_opened_for_seller_cancellation_tells_buyer_refund_deadline_and_amount() -> None:
    """The buyer learns what happened, what they are owed (in won) and by when (in Seoul time)."""
    payload = SAMPLES[("buyer", "claim.opened", "seller_cancellation")]
    korean = render_notice("claim.opened", "buyer", "ko", payload)
    body = " ".join(korean.paragraphs)
    assert "판매자가 2026년 9월 23일(수) 15:00에 주문 O-30001을(를) 취소했습니다(사유: 품절)" in body
    assert "389,000원 전액을 2026년 9월 25일(금) 23:59까지" in body
    assert "연 15%의 지연배상금" in body
    english = render_notice("claim.opened", "buyer", "en", payload)
    body = " ".join(english.paragraphs)
    assert "full refund of ₩389,000 by Fri 25 Sep 2026, 23:59 KST" in body
    assert ("Seller must answer by", "Wed 30 Sep 2026, 23:59 KST") in english.facts


def test_escalation_against_silent_seller_is_a_breach_notice() -> None:
    """The seller is told it missed the deadline, what follows, and when staff decide."""
    notice = render_notice("claim.escalated", "seller", "ko", SAMPLES[("seller", "claim.escalated", "seller_silent")])
    assert "답변 기한 초과" in notice.subject
    assert "응답 기한 초과 위반이 기록됩니다" in notice.paragraphs[0]
    assert ("결정 기한", "2026년 10월 5일(월) 23:59") in notice.facts


def test_sanction_until_review_says_so_in_both_languages() -> None:
    """A sanction without an end date stays until review."""
    payload = SAMPLES[("seller", "sanction.imposed", "until_review")]
    assert ("종료", "검토 완료 시까지") in render_notice("sanction.imposed", "seller", "ko", payload).facts
    assert ("Until", "until reviewed") in render_notice("sanction.imposed", "seller", "en", payload).facts


def test_incident_notice_uses_the_incident_text_of_the_readers_language() -> None:
    """Staff write the incident's title and explanation in both languages; each reader gets theirs."""
    payload = SAMPLES[("buyer", "incident.order_compensated", "")]
    korean = render_notice("incident.order_compensated", "buyer", "ko", payload)
    english = render_notice("incident.order_compensated", "buyer", "en", payload)
    assert korean.subject == "[안내] 가격 오류로 인한 주문 취소 안내" and payload["explanation_ko"] in korean.paragraphs
    assert english.subject == "[Notice] Orders cancelled after a price error"
    assert ("Compensation", "₩10,000") in english.facts


def test_email_html_escapes_what_people_wrote() -> None:
    """A buyer's or seller's own words are text in the HTML part, never markup."""
    payload = {**SAMPLES[("buyer", "claim.proposed", "")], "message": '<script>alert("x")</script>'}
    email = render_email(
        render_notice("claim.proposed", "buyer", "en", payload), recipient_name="A&B", audience="buyer"
    )
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "Dear A&amp;B," in email.html and "Dear A&B," in email.text
    assert '<script>alert("x")</script>' in email.text


def test_missing_payload_value_fails_loudly() -> None:
    """A template never prints an empty hole for a value the payload lacks."""
    payload = dict(SAMPLES[("seller", "deduction.confirmed", "")])
    del payload["amount"]
    with pytest.raises(Exception, match="amount"):
        render_notice("deduction.confirmed", "seller", "ko", payload)
