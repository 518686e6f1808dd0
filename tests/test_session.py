"""The session model: every field says what a fresh start keeps; sessions saved by the last release load."""

from __future__ import annotations

from pathlib import Path

from driver import NOW, Driver
from neuroseq_core.content import Content
from neuroseq_core.domain.events import Choice, Start
from neuroseq_core.domain.session import SCHEMA_VERSION, Session
from neuroseq_core.engine import step

DATA = Path(__file__).with_name("data")


def test_every_field_says_what_a_fresh_start_keeps():
    for name, info in Session.model_fields.items():
        extra = info.json_schema_extra
        assert isinstance(extra, dict) and extra.get("keep") in ("user", "child", "run"), name


def test_no_untyped_field_is_left():
    for name, info in Session.model_fields.items():
        assert "Any" not in str(info.annotation), name


def test_restart_and_progress_keep_what_the_model_marks(content: Content):
    d = Driver(content)
    d.onboard_caregiver(region="uk", age="3-5", nickname="Bee")
    d.answer_all(3)
    d.deeper(3)
    d.press_id("checkin")
    d.press_id("3")
    before = d.session
    again = before.fresh("child")
    assert (again.region, again.age_band, again.nickname, again.role) == ("uk", "3-5", "Bee", "caregiver")
    assert again.followup == before.followup and again.followup is not before.followup
    assert again.answers == {} and again.profile is None and again.state == "new"
    over = before.fresh("user")
    assert (over.region, over.consent, over.language) == ("uk", True, "en")
    assert over.age_band is None and over.nickname is None and over.followup.checkin_days is None


def test_sessions_saved_by_the_last_release_load_and_carry_on(content: Content):
    paused = Session.from_json((DATA / "session_v1_paused.json").read_text(encoding="utf-8"))
    assert paused.schema_version == SCHEMA_VERSION and paused.state == "paused"
    assert paused.returns.resume == "questions" and paused.counted_start and len(paused.answers) == 2
    session, replies, _ = step(paused, Start(now=NOW), content)
    assert session.state == "questions" and session.answers == paused.answers
    # Back at the question that was on screen (now the second of the five core ones), nothing lost.
    assert session.question_id == paused.question_id and "2 of 5" in replies[-1].text

    side = Session.from_json((DATA / "session_v1_progress_now.json").read_text(encoding="utf-8"))
    assert side.state == "now" and side.returns.now_return == "questions"
    assert side.followup.checkin_days == 3 and side.followup.checkins[0].outcome == "partly"
    assert side.followup.past and side.followup.past[0].bands["sensory"] == "more_support"
    # The side trip goes on: a look, then back to the question that was on screen.
    look = next(iter(content.help_now))
    session, replies, _ = step(side, Choice(now=NOW, option_id=look, token=side.token), content)
    assert session.state == "now_after"
    session, replies, _ = step(session, Choice(now=NOW, option_id="back", token=session.token), content)
    assert session.state == "questions" and session.question_id == side.question_id
    dumped = session.to_json()
    assert '"extra"' not in dumped and '"effects"' not in dumped and '"flow"' not in dumped
