"""Follow-ups in the pure engine: help right now, check-ins, the dose plan, progress, the handover note."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from driver import NOW, Driver
from neuroseq_core.content.check_words import forbidden_claims
from neuroseq_core.domain.doses import MAX_DOSE, MIN_DOSE, plan_doses
from neuroseq_core.domain.effects import CancelReminders, Remind
from neuroseq_core.domain.events import Command, Due
from neuroseq_core.domain.models import Activity, DosePoint
from neuroseq_core.domain.recommend import Filters, fits

REGULATING = {"sensory", "self_regulation"}


def at_results(content, pick=(2, 1), **onboard) -> Driver:
    """A caregiver at the results after the core and a closer look (which gives the nickname)."""
    d = Driver(content)
    d.onboard_caregiver(**onboard)
    d.answer_all(list(pick))
    assert d.session.state == "results"
    d.deeper(list(pick))
    assert d.session.state == "results" and d.session.depth == "deep"
    return d


def plain(d: Driver) -> str:
    return d.text


# ---- help right now --------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["consent", "questions", "results", "paused"])
def test_help_now_is_two_taps_from_anywhere_and_goes_back(content, where):
    d = Driver(content)
    if where in ("questions", "results", "paused"):
        d.onboard_caregiver()
    if where == "results":
        d.answer_all(0)
    if where == "paused":
        d.send(Command(now=NOW, name="cancel"))
    before = d.session.model_copy(deep=True)

    d.send(Command(now=NOW, name="now"))  # tap 1 (the menu command)
    assert d.session.state == "now"
    assert [b.id for b in d.last.choices] == list(content.help_now)
    d.press_id("out_of_control")  # tap 2: how the child looks
    steps = [r for r in d.replies if r.kind == "result"]
    assert len(steps) == 1
    text = steps[0].text
    look = content.help_now["out_of_control"]
    assert all(
        str(content.text_of(s, "en", child=d.session.nickname or "your child"))[:30] in text
        for s in look.steps
    )
    if before.region == "uk":
        assert "999" in text  # the region's emergency number, once the region is known
    else:
        assert "your local emergency number" in text
    assert d.session.answers == before.answers  # nothing the user answered is touched

    d.press_id("back")
    assert d.session.state == before.state
    assert d.session.question_id == before.question_id


def test_help_now_never_offers_reasoning_level_ideas(content):
    """Every look, age band and setting: only regulating ideas, and they fit the child."""
    for look, band, setting in itertools.product(
        content.help_now.values(), content.age_bands, ("home", "classroom")
    ):
        for aid in look.then:
            assert content.activities[aid].levels[0] in REGULATING, (look.id, aid)
    for band, role in itertools.product(content.age_bands, ("caregiver", "educator")):
        d = Driver(content)
        if role == "caregiver":
            d.onboard_caregiver(age=band)
        else:
            d.onboard_educator(age=band)
        for look in content.help_now:
            d.send(Command(now=NOW, name="now"))
            d.press_id(look)
            shown = [
                a for a in content.activities.values() if f"<b>{a.text['en'].title}</b>" in d.replies[0].text
            ]
            setting = "home" if role == "caregiver" else "classroom"
            f = Filters(age_band=band, setting=setting, group=d.session.group or "one")
            for a in shown:
                assert a.levels[0] in REGULATING and fits(a, f), (band, look, a.id)
            d.press_id("back")


# ---- check-ins ---------------------------------------------------------------------------------


def test_checkin_offer_schedules_one_reminder_and_a_later_progress_offer(content):
    d = at_results(content)
    d.press_id("checkin")
    assert [b.id for b in d.last.choices] == ["1", "3", "7", "no"]
    d.press_id("3")
    effects = d.effects
    assert effects[0] == CancelReminders()  # a new choice replaces the check-in not yet sent
    assert Remind("checkin", dt.timedelta(days=3)) in effects
    assert any(isinstance(e, Remind) and e.kind == "progress" for e in effects)
    assert d.session.state == "results" and "3 days" in d.text
    d.press_id("checkin")
    d.press_id("no")
    assert not any(isinstance(e, Remind) for e in d.effects)


@pytest.mark.parametrize("outcome", ["worked", "partly", "not", "not_tried"])
def test_checkin_adapts_to_how_it_went(content, outcome):
    d = at_results(content)
    d.press_id("checkin")
    d.press_id("1")
    tried = list(d.session.suggested[:1])  # one idea at a time
    d.send(Due(what="checkin", now=NOW + dt.timedelta(days=1)))
    assert d.session.state == "checkin"
    assert content.activities[tried[0]].text["en"].title in d.text
    others = [content.activities[i].text["en"].title for i in d.session.suggested[1:]]
    assert not any(f"<b>{t}</b>" in d.replies[0].text for t in others)
    assert [b.id for b in d.last.choices] == ["worked", "partly", "not", "not_tried", "stop"]
    d.press_id(outcome)
    reply = next(r for r in d.replies if r.kind == "result")
    offered = [a for a in content.activities.values() if f"<b>{a.text['en'].title}</b>" in reply.text]
    tried_acts = [content.activities[i] for i in tried]
    if outcome == "worked":  # more of what worked
        assert {a.id for a in offered} == set(tried)
    elif outcome == "partly":  # easier: new and no longer than the shortest tried
        assert offered and not {a.id for a in offered} & set(tried)
        assert all(a.minutes <= max(min(t.minutes for t in tried_acts), 3) for a in offered)
    elif outcome == "not":  # more regulating: the bottom of the sequence, brief, new
        assert offered and not {a.id for a in offered} & set(tried)
        assert all(a.levels[0] in REGULATING and a.minutes <= 5 for a in offered)
    else:  # not tried: the tiniest doses
        assert offered and all(a.minutes <= 3 or a.id in tried for a in offered)
    assert d.session.followup.checkins[-1].outcome == outcome
    # Then another check-in is offered.
    assert d.session.state == "checkin_offer"
    d.press_id("7")
    assert Remind("checkin", dt.timedelta(days=7)) in d.effects


def test_checkin_stop_button_and_stop_command_end_reminders(content):
    d = at_results(content)
    d.press_id("checkin")
    d.press_id("1")
    d.send(Due(what="checkin", now=NOW + dt.timedelta(days=1)))
    d.press_id("stop")
    assert CancelReminders() in d.effects and d.session.state == "results"
    d.send(Command(now=NOW, name="stop"))
    assert CancelReminders() in d.effects and d.session.state == "paused"
    d.send(Command(now=NOW, name="cancel"))
    assert CancelReminders() not in d.effects  # /cancel only pauses


def test_a_due_reminder_without_ideas_says_nothing(content):
    d = Driver(content)
    d.send(Due(now=NOW, what="checkin"))
    assert d.replies == []
    d.onboard_caregiver()
    d.send(Due(now=NOW, what="checkin"))
    assert d.replies == []


def test_a_checkin_mid_questions_returns_to_the_question(content):
    d = at_results(content)
    d.press_id("checkin")
    d.press_id("1")
    d.send(Command(now=NOW + dt.timedelta(days=15), name="progress"))
    d.press(0)
    question = d.session.question_id
    d.send(Due(what="checkin", now=NOW + dt.timedelta(days=1)))
    d.press_id("worked")
    d.press_id("no")
    assert d.session.state == "questions" and d.session.question_id == question


# ---- dose plan --------------------------------------------------------------------------------


def test_plan_places_short_doses_at_the_days_transitions(content):
    d = at_results(content)
    d.press_id("plan")
    text = d.replies[0].text
    home_points = [p for p in content.dose_points.values() if "home" in p.settings]
    for p in home_points:
        assert p.label["en"] in text
    for aid in d.session.suggested[:3]:
        assert content.activities[aid].text["en"].title in text
    assert d.session.state == "results"

    e = Driver(content)
    e.onboard_educator(group="class")
    e.answer_all(1)
    e.press_id("plan")
    for p in content.dose_points.values():
        assert (p.label["en"] in e.replies[0].text) == ("classroom" in p.settings)


def _activity(aid: str, level: str, minutes: int) -> Activity:
    return Activity.model_validate(
        {
            "id": aid,
            "levels": [level],
            "age_bands": ["6-11"],
            "settings": ["home"],
            "minutes": minutes,
            "six_rs": ["rhythmic"],
            "source": "x",
            "text": {"en": {"title": aid, "why": "w", "steps": ["s"], "materials": []}},
        }
    )


def test_plan_doses_uses_every_idea_keeps_doses_short_and_suits_each_moment():
    points = [
        DosePoint(id=f"p{i}", label={"en": f"p{i}"}, settings=["home"], levels=[lv])
        for i, lv in enumerate(["sensory", "sensory", "relational", "sensory", "cognitive"])
    ]
    acts = [_activity("a", "sensory", 1), _activity("b", "sensory", 30), _activity("c", "relational", 5)]
    plan = plan_doses(points, acts)
    assert [d.point.id for d in plan] == [p.id for p in points]
    assert all(MIN_DOSE <= d.minutes <= MAX_DOSE for d in plan)
    assert {d.activity.id for d in plan} == {"a", "b", "c"}
    for d in plan:
        if any(a.levels[0] in d.point.levels for a in acts):
            assert d.activity.levels[0] in d.point.levels
    assert plan_doses(points, []) == []


# ---- progress and handover --------------------------------------------------------------------


def test_progress_repeats_the_questions_and_shows_the_change_in_words(content):
    d = at_results(content, pick=(3,))
    assert d.session.profile.start_step == "regulate"
    d.send(Command(now=NOW + dt.timedelta(days=3), name="progress"))
    assert d.session.state == "results" and "in 11 days" in d.text  # too soon to say what changed
    d.send(Command(now=NOW + dt.timedelta(days=15), name="progress"))
    assert d.session.state == "questions" and d.session.answers == {}
    assert "1 of 5" in d.text  # the short core, not every question again
    assert d.session.nickname == "Sam" and d.session.age_band == "6-11"  # same child, not asked again
    d.answer_all(0)
    progress = [r for r in d.replies if r.picture is not None and r.picture.kind == "progress"]
    assert len(progress) == 1
    picture = progress[0].picture
    assert picture.notes and all(note == "steadier" for note in picture.notes[:1])
    assert "Since 2026-03-01" in progress[0].text
    assert not any(ch.isdigit() for ch in "".join(picture.notes))  # words, never a score
    assert not forbidden_claims(progress[0].text)


def test_progress_before_any_answers_explains(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.send(Command(now=NOW, name="progress"))
    assert "answered the questions once" in d.text and d.session.state == "questions"


def test_handover_note_is_plain_and_non_diagnostic(content):
    d = at_results(content)
    d.press_id("checkin")
    d.press_id("1")
    d.send(Due(what="checkin", now=NOW + dt.timedelta(days=1)))
    d.press_id("worked")
    d.press_id("no")
    d.send(Command(now=NOW, name="handover"))
    note = d.replies[0].text
    assert "A note about Sam" in note and "What helps" in note and "What to avoid" in note
    assert (
        "Bubble breathing" in note.split("<b>What helps</b>")[1].split("<b>")[0]
        or "What we are trying" in note
    )
    assert "What we have tried" in note and "It helped" in note
    assert "not a diagnosis" in note
    assert not forbidden_claims(note)
    for word in ("score", "disorder", "developmental age", "brain map"):
        assert word not in note.lower()


def test_help_now_as_the_very_first_message_then_the_welcome(content):
    from neuroseq_core.domain.events import Choice
    from neuroseq_core.engine import new_session, step

    session, replies, _ = step(new_session("u9", content), Command(now=NOW, name="now"), content)
    assert session.state == "now" and replies[-1].choices
    session, replies, _ = step(
        session, Choice(now=NOW, option_id="shut_down", token=replies[-1].token), content
    )
    assert [b.id for b in replies[-1].choices] == ["again", "begin"]
    session, replies, _ = step(session, Choice(now=NOW, option_id="begin", token=replies[-1].token), content)
    assert session.state == "consent" and "welcome" in replies[0].text


def test_progress_after_a_run_of_not_sure_says_there_is_nothing_to_compare(content):
    d = Driver(content)
    d.onboard_caregiver()
    while d.session.state == "questions":
        d.press_id("skip")
    d.press_id("uk")
    d.send(Command(now=NOW + dt.timedelta(days=15), name="progress"))
    d.answer_all(1)
    progress = next(r for r in d.replies if r.picture is not None and r.picture.kind == "progress")
    assert progress.picture.changes == ["unknown", "unknown", "unknown"]
    assert progress.picture.notes == ["not enough to compare"] * 3
    assert "steadier" not in progress.text
