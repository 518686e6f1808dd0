"""Safety in conversation: two tiers, context, nicknames, before a region, who is speaking, free text."""

from __future__ import annotations

import datetime as dt

import pytest

from driver import NOW, Driver
from neuroseq_core.content import Content
from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.events import Text
from neuroseq_core.domain.session import SafetyMemory
from neuroseq_core.engine import SAFETY_NO, SAFETY_REGION, SAFETY_YES

POSSIBLE = "i dont know how much longer i can do this"  # check:caregiver_breaking_point
CLEAR = "I want to kill myself tonight"  # suicide_self_harm


def _help_for(d: Driver, text: str) -> str:
    """Type a message; if the gentle question comes first, say yes; the help the person reads."""
    d.type(text)
    if d.replies and d.replies[0].kind == "question" and "danger right now" in d.text:
        d.press_id(SAFETY_YES)
    return _safety_text(d)


def _onboarded(content: Content, region: str) -> Driver:
    """A caregiver who has answered the core questions and chosen a region (the results are on screen)."""
    d = Driver(content)
    d.reach("results", region)
    return d


def _safety_text(d: Driver) -> str:
    return "\n".join(r.text for r in d.replies if r.kind == "safety")


def _driver_in(content: Content, state: str) -> Driver:
    d = Driver(content)
    d.reach(state)
    return d


@pytest.mark.parametrize(
    "state", ["consent", "role", "age_band", "questions", "region", "results", "nickname", "paused"]
)
def test_both_tiers_in_every_state(content: Content, state: str) -> None:
    d = _driver_in(content, state)
    d.type(CLEAR)
    assert any(r.kind == "safety" for r in d.replies)
    assert "999" in _safety_text(d) or state in (
        "consent",
        "role",
        "age_band",
        "questions",
        "region",
        "paused",
    )
    assert d.session.state == state  # the conversation waits where it was
    d = _driver_in(content, state)
    d.type(POSSIBLE)
    assert [r.kind for r in d.replies] == ["question"]
    assert "danger right now" in d.text
    assert [b.id for b in d.replies[0].choices] == [SAFETY_YES, SAFETY_NO]
    d.press_id(SAFETY_NO)
    assert d.session.state == state and "/helplines" in d.text
    assert not any(r.kind == "safety" for r in d.replies)
    d = _driver_in(content, state)
    d.type(POSSIBLE)
    d.press_id(SAFETY_YES)
    assert any(r.kind == "safety" for r in d.replies)
    assert d.session.state == state


def test_context_follow_up_gets_help(content: Content) -> None:
    d = Driver(content)
    d.reach("results", "uk", "12-18")
    alone = Driver(content)
    alone.reach("results", "uk", "12-18")
    alone.type("she's been planning how to do it")
    assert not any(r.kind == "safety" for r in alone.replies)  # alone, it is not clear danger
    d.send(Text(text="she said she wants to die", now=NOW))
    d.send(Text(text="she's been planning how to do it", now=NOW + dt.timedelta(minutes=5)))
    assert any(r.kind == "safety" for r in d.replies)
    assert "988" not in _safety_text(d) and "Samaritans" in _safety_text(d)  # UK lines
    # The session keeps only categories and a time: never the words.
    dumped = d.session.to_json()
    assert "planning" not in dumped and "wants to die" not in dumped
    assert d.session.safety is not None and "suicide_self_harm" in d.session.safety.categories
    # An hour later the context has passed.
    late = Driver(content)
    late.reach("results", "uk", "12-18")
    late.send(Text(text="she said she wants to die", now=NOW))
    late.send(Text(text="she's been planning how to do it", now=NOW + dt.timedelta(hours=1)))
    assert not any(r.kind == "safety" for r in late.replies)


def test_danger_at_the_nickname_prompt_is_never_a_name(content: Content) -> None:
    d = Driver(content)
    d.reach("nickname", "us")
    d.type("i have the rope ready")
    assert d.session.nickname is None and d.session.state == "nickname"
    assert any(r.kind in ("safety", "question") for r in d.replies)
    assert "rope" not in d.text
    d.type("my son has been really hard to handle at bedtime")
    assert d.session.nickname is None and d.session.state == "nickname"
    assert "more than a name" in d.text and "bedtime" not in d.text
    d.type("Mary-Jo")
    assert d.session.nickname == "Mary-Jo" and d.session.state == "questions"  # the deeper questions


def test_before_a_region_numbers_at_once_and_countries_one_tap_away(content: Content) -> None:
    d = Driver(content)
    d.type(CLEAR)
    text = _safety_text(d)
    assert to_plain(text).startswith("Emergency numbers:")  # the numbers before anything else
    for number in ("911", "999", "000", "112"):
        assert number in text, number
    ids = [b.id for b in d.replies[-1].choices]
    assert SAFETY_REGION + "uk" in ids and SAFETY_REGION + "us" in ids
    d.press_id(SAFETY_REGION + "uk")
    text = _safety_text(d)
    assert "Samaritans" in text and "116 123" in text and "999" in text
    es = Driver(content, language="es")
    text = _help_for(es, "me voy a quitar la vida esta noche, ya tengo las pastillas")
    assert "911" in text and "112" in text
    es.press_id(SAFETY_REGION + "mx")
    assert "Línea de la Vida" in _safety_text(es)


def test_the_right_help_for_who_is_speaking(content: Content) -> None:
    child = _onboarded(content, "us")
    text = _help_for(child, "12 yrs old and my moms bf has sex with me")
    assert "not your fault" in text and "Childhelp" in text
    if "988" in text:  # the child-abuse line before the general one
        assert text.index("Childhelp") < text.index("988")
    teacher = Driver(content)
    teacher.onboard_educator()
    text = _help_for(teacher, "a student told me her uncle touches her and she is scared to go home")
    assert "You're not in trouble" not in text and "believe them" in text
    assert "safeguarding lead" in text
    adult = Driver(content)
    adult.onboard_caregiver(region="us")
    text = _help_for(adult, "I was raped by my boyfriend last year and I still can't sleep")
    assert "You're not in trouble" not in text and "Tell an adult you trust" not in text


def test_several_categories_at_once_and_no_poison_line_for_strangulation(content: Content) -> None:
    d = Driver(content)
    d.reach("results", "us")
    assert "Poison Help" in _help_for(d, "my toddler drank bleach from under the sink")
    d = Driver(content)
    d.reach("results", "us")
    text = to_plain(_help_for(d, "he strangled me last night and the kids saw everything"))
    # A body in danger first (the emergency number), then the violence at home with its own line.
    assert text.startswith("This sounds like an emergency. Call 911 now")
    assert "Also, for the violence at home:" in text and "National Domestic Violence Hotline" in text
    assert "Poison Help" not in text and text.count("National Domestic Violence Hotline") == 1


def test_each_category_found_brings_its_own_lines_once(content: Content) -> None:
    d = _onboarded(content, "uk")
    d.session.safety = SafetyMemory(
        categories=["medical_emergency", "domestic_violence", "child_at_risk"],
        speaker="adult_about_adult",
        at=NOW,
    )
    d.press_id(SAFETY_YES)
    text = to_plain(_safety_text(d))
    assert text.startswith("This sounds like an emergency. Call 999 now")
    assert "National Domestic Abuse Helpline" in text and "NSPCC" in text
    assert text.index("violence at home") < text.index("for the children")
    assert "Childline" not in text  # an adult writing about another adult: the adults' lines


def test_free_text_is_always_answered_with_a_way_to_help(content: Content) -> None:
    d = Driver(content)
    d.reach("questions")
    for words in ("hmm", "my son likes trains", "what is this for", "🙂", "x" * 4096):
        d.type(words)  # before the region is known: the help without a number
        assert "/now" in d.text and "/helplines" in d.text and "emergency" in d.text, words
        assert "Please tap one of the buttons" not in d.text
        assert d.session.state == "questions"
    d = Driver(content)
    d.reach("results", "uk")
    for words in ("hmm", "my son likes trains"):
        d.type(words)
        assert "/now" in d.text and "/helplines" in d.text and "999" in d.text, words
        assert d.session.state == "results"


def test_spanish_parity(content: Content) -> None:
    d = _onboarded(content, "mx")
    d.type("/language es")
    d.type("ya tengo las pastillas guardadas para hoy en la noche, esta es mi última carta")
    assert any(r.kind in ("safety", "question") for r in d.replies)
    if d.replies[0].kind == "question":
        assert "peligro" in d.text
        d.press_id(SAFETY_YES)
    text = _safety_text(d)
    assert "911" in text and "Línea de la Vida" in text
    for vosotros in ("estáis", "tenéis", "vuestro", "podéis"):
        assert vosotros not in text
    d.type("hola")
    assert "/now" in d.text and "botones" in d.text


def test_a_sticker_while_the_danger_question_is_open_asks_it_again(content: Content) -> None:
    # "i don't know how much longer i can do this", then a sticker (a crying face, perhaps): the
    # open question about danger comes again, not the questionnaire's next question.
    from neuroseq_core.domain.events import Choice, Unsupported

    d = _driver_in(content, "questions")
    qid = d.session.question_id
    d.type(POSSIBLE)
    d.send(Unsupported(now=NOW + dt.timedelta(minutes=1), what="sticker"))
    assert [r.kind for r in d.replies] == ["question"]
    assert "only read text" in d.text and "danger right now" in d.text
    assert [b.id for b in d.replies[0].choices] == [SAFETY_YES, SAFETY_NO]
    d.press_id(SAFETY_YES)  # its buttons work as the first time's
    assert any(r.kind == "safety" for r in d.replies)
    assert d.session.question_id == qid  # and the questionnaire waits where it was
    # Answered (or set aside by an answer, a command, a typed word): a sticker asks the questionnaire's
    # question again, as always.
    d.send(Unsupported(now=NOW + dt.timedelta(minutes=2), what="sticker"))
    assert "danger right now" not in d.text and "only read text" in d.text
    d = _driver_in(content, "questions")
    d.type(POSSIBLE)
    d.press_id(SAFETY_NO)
    d.send(Unsupported(now=NOW + dt.timedelta(minutes=1), what="sticker"))
    assert "danger right now" not in d.text
    d = _driver_in(content, "questions")
    question = d.last
    assert question is not None and d.session.question_id == qid
    d.type(POSSIBLE)
    d.send(Choice(now=NOW, option_id=question.choices[0].id, token=question.token))  # they went on
    assert d.session.question_id != qid
    d.send(Unsupported(now=NOW + dt.timedelta(minutes=1), what="sticker"))
    assert "danger right now" not in d.text
    # Long after (outside the safety context's minutes), not again either.
    d = _driver_in(content, "questions")
    d.type(POSSIBLE)
    d.send(Unsupported(now=NOW + dt.timedelta(hours=6), what="sticker"))
    assert "danger right now" not in d.text and "only read text" in d.text
