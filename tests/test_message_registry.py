"""Every message the engine renders is in the registry (neuroseq_core.content.messages) the content check
uses: so a new message id cannot ship unchecked in one language or without sample data."""

from __future__ import annotations

import datetime as dt

import pytest

from driver import NOW, Driver
from neuroseq_core.content import Content
from neuroseq_core.content.messages import MESSAGES, SAFETY_MESSAGES
from neuroseq_core.domain.events import Command, Due, Text, Unsupported
from neuroseq_core.engine import SAFETY_NO, SAFETY_REGION, SAFETY_YES
from neuroseq_core.safety import CATEGORIES


@pytest.fixture
def rendered(content: Content, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The ids of every message rendered while the test runs."""
    used: set[str] = set()
    template = Content.template

    def recording(self: Content, message_id: str, language: str) -> str:
        used.add(message_id)
        return template(self, message_id, language)

    monkeypatch.setattr(Content, "template", recording)
    return used


def _journeys(content: Content) -> None:
    for language in ("en", "es"):
        d = Driver(content, language=language)
        d.type("hello there")
        d.onboard_caregiver()
        d.type("my son likes trains")
        d.press(1)
        d.type("/back")
        d.type("/help")
        d.type("/privacy")
        d.type("/helplines")
        d.type("/language")
        d.type("/unknown")
        d.send(Unsupported(now=NOW, what="sticker"))
        d.send(Unsupported(now=NOW, what="edited_message", text="sometimes"))
        d.answer_all(3)
        assert d.session.state == "results", d.session.state
        for option in ("more", "plan", "handover", "checkin"):
            d.press_id(option)
        d.press_id("1")
        d.send(Due(now=NOW + dt.timedelta(days=1), what="checkin"))
        assert d.session.state == "checkin", d.session.state
        d.press_id("not")
        d.press_id("no")
        d.type("/now")
        d.press(0)
        d.press(0)
        d.type("/progress")
        d.type("/stop")
        d.type("/start")
        d.type("/restart")
        d.type("/delete")
        d.press_id("delete.keep")
        d.type("/delete")
        d.press_id("delete.confirm")
        # Safety: both tiers, the country buttons, yes and no, every category.
        s = Driver(content, language=language)
        s.type("I want to kill myself tonight")
        s.press_id(SAFETY_REGION + "uk")
        s.type("i dont know how much longer i can do this")
        s.press_id(SAFETY_NO)
        s.send(Text(now=NOW + dt.timedelta(hours=2), text="i dont know how much longer i can do this"))
        s.press_id(SAFETY_YES)
        for text in (
            "my baby isn't breathing and his lips are blue",
            "my uncle touches me and says it's our secret, im 12",
            "my husband hit me again and took my phone",
            "I'm scared I'll hurt my baby, I can't cope",
        ):
            s.type(text)
        s.press_id("safety.stop")
        e = Driver(content, language=language)
        e.onboard_educator(group="class")
        e.answer_all(2)
        e.send(Command(now=NOW, name="handover"))


def test_every_rendered_message_is_registered(content: Content, rendered: set[str]) -> None:
    _journeys(content)
    registered = set(MESSAGES) | set(SAFETY_MESSAGES) | {f"safety.{c}" for c in CATEGORIES}
    registered |= {r.message for r in content.referrals}
    assert len(rendered) >= 80  # the journeys reached most of the conversation
    for reached in ("safety.check.question", "safety.numbers", "reprompt.free_text", "checkin.question"):
        assert reached in rendered, reached
    missing = sorted(rendered - registered)
    assert missing == [], f"rendered but not in neuroseq_core/content/messages.py: {missing}"
