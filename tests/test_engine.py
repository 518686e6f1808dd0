"""The engine: transitions, bad input, stale buttons, round trips, commands."""

from __future__ import annotations

import datetime as dt

import pytest

from driver import NOW, Driver
from neuroseq_core.domain.effects import DeleteUser, SaveProfile
from neuroseq_core.domain.events import Choice, Command, Due, Text, Unsupported
from neuroseq_core.domain.session import SCHEMA_VERSION, Session
from neuroseq_core.engine import step


def test_welcome_carries_the_honest_disclaimer(content):
    d = Driver(content)
    assert "informed by published principles of the Neurosequential Model" in d.text
    assert "not a diagnosis" in d.text and "not an emergency service" in d.text
    assert "not affiliated" in d.text
    assert d.session.state == "consent"
    assert [b.id for b in d.last.choices] == ["agree", "decline", "language:es"]
    assert d.last.choices[-1].label == "Español"  # someone who reads no English finds their language


def _taps_to_first_idea(d: Driver, role: str, age: str = "6-11") -> int:
    taps = 0
    for pick in ("agree", role, age):
        d.press_id(pick)
        taps += 1
    while d.session.state == "questions":
        d.press(2)
        taps += 1
    assert any(r.kind == "result" and "to try" in r.text for r in d.replies)
    return taps


@pytest.mark.parametrize("role", ["parent", "foster", "student", "class"])
def test_a_first_idea_within_eight_taps_of_start(content, role):
    d = Driver(content)
    assert _taps_to_first_idea(d, role) <= 8
    assert d.session.state == "region"  # where we are: asked once, after the first idea
    assert "helplines" in d.last.text


def test_caregiver_path_visits_every_state_of_the_journey(content):
    d = Driver(content)
    seen = [d.session.state]
    for pick in ("agree", "parent", "3-5"):
        d.press_id(pick)
        seen.append(d.session.state)
    assert seen == ["consent", "role", "age_band", "questions"]
    assert d.session.questionnaire == "caregiver" and d.session.carer == "parent"
    assert "1 of 5" in d.text  # the core: five questions
    d.answer_core(1)
    assert d.session.state == "region"
    d.press_id("uk")
    assert d.session.state == "results" and d.session.region == "uk"
    assert d.last.choices[0].id == "deeper"
    d.press_id("deeper")
    assert d.session.state == "nickname"
    d.type("Bee")
    assert d.session.nickname == "Bee" and d.session.state == "questions"
    assert d.session.depth == "deep" and "Bee" in d.text
    assert "A few more questions" in d.text


def test_educator_class_path_skips_nickname_and_uses_class_questions(content):
    d = Driver(content)
    d.onboard_educator(group="class", minutes="2")
    assert d.session.state == "questions"
    assert d.session.questionnaire == "educator_class"
    d.answer_all(1)
    assert d.session.state == "results"
    d.deeper(1)  # a closer look asks the teacher's time and place first
    assert d.session.minutes == 2 and d.session.setting == "classroom" and d.session.nickname is None
    assert d.session.state == "results"


def test_educator_student_path(content):
    d = Driver(content)
    d.onboard_educator(group="one")
    assert d.session.questionnaire == "educator_student"
    d.answer_all(0)
    assert d.session.state == "results"


def test_questions_are_bottom_up_and_every_answer_is_kept(content):
    d = Driver(content)
    d.onboard_caregiver()
    levels = []
    asked = []
    while d.session.state == "questions":
        q = content.questions[d.session.question_id]
        levels.append(q.level)
        asked.append(q.id)
        d.press(1)
    order = ["sensory", "self_regulation", "relational", "cognitive"]
    assert [order.index(lv) for lv in levels] == sorted(order.index(lv) for lv in levels)
    assert set(d.session.answers) == set(asked)
    assert all(v is not None for v in d.session.answers.values())


def test_decline_then_start_again(content):
    d = Driver(content)
    d.press_id("decline")
    assert d.session.state == "declined"
    d.type("hello")
    assert "/start" in d.text
    d.type("/start")
    assert d.session.state == "consent"


@pytest.mark.parametrize(
    "bad",
    [
        "99",
        "0",
        "",
        "   ",
        "x" * 10_000,
        "😀🙃🎉",
        "مرحبا كيف حالك",
        "שלום",
        "\u202e\u202dabc",
        "/frobnicate",
        "1.5",
    ],
)
def test_bad_input_mid_question_reprompts_the_same_question_and_loses_nothing(content, bad):
    d = Driver(content)
    d.onboard_caregiver()
    d.press(0)
    d.press(2)
    before = dict(d.session.answers)
    qid = d.session.question_id
    token = d.session.token
    d.type(bad)
    assert d.session.state == "questions"
    assert d.session.question_id == qid
    assert d.session.answers == before
    assert d.session.token == token  # the same question, so its buttons still work
    assert d.last.token == token and len(d.replies) >= 1
    assert len(d.replies[-1].text) < 2000


def test_unsupported_input_reprompts(content):
    d = Driver(content)
    d.onboard_caregiver()
    qid = d.session.question_id
    d.send(Unsupported(now=NOW, what="sticker"))
    assert "only read text" in d.text
    assert d.session.question_id == qid


def test_stale_button_is_never_applied(content):
    d = Driver(content)
    d.onboard_caregiver()
    old = d.last
    d.press(0)
    answers = dict(d.session.answers)
    d.send(Choice(now=NOW, option_id=old.choices[3].id, token=old.token))
    assert d.session.answers == answers
    assert "earlier question" in d.text


def test_forged_option_is_refused(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.send(Choice(now=NOW, option_id="definitely-not-an-option", token=d.last.token))
    assert "isn't one of the options" in d.text
    assert d.session.answers == {}


def test_typed_number_and_label_answer_the_question(content):
    d = Driver(content)
    d.onboard_caregiver()
    qid = d.session.question_id
    label = d.last.choices[2].label
    d.send(Text(now=NOW, text=label.upper()))
    assert d.session.answers[qid] == d.history[-1].answers[qid]
    qid2 = d.session.question_id
    d.send(Text(now=NOW, text="2"))
    assert d.session.answers[qid2] == content.questions[qid2].options[1].id


def test_skip_records_no_answer_and_moves_on(content):
    d = Driver(content)
    d.onboard_caregiver()
    qid = d.session.question_id
    d.press_id("skip")
    assert d.session.answers[qid] is None and d.session.question_id != qid


def test_back_goes_to_the_previous_question(content):
    d = Driver(content)
    d.onboard_caregiver()
    first = d.session.question_id
    d.press(1)
    d.type("/back")
    assert d.session.question_id == first
    assert first not in d.session.answers


def test_cancel_keeps_answers_and_start_resumes(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.press(1)
    d.press(2)
    qid = d.session.question_id
    answers = dict(d.session.answers)
    d.type("/cancel")
    assert d.session.state == "paused"
    d.type("/start")
    assert d.session.state == "questions" and d.session.question_id == qid
    assert d.session.answers == answers
    assert "Welcome back" in d.text


def test_restart_clears_answers_keeps_consent(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.press(1)
    d.type("/restart")
    assert d.session.answers == {} and d.session.state == "role" and d.session.consent


def test_delete_asks_first_then_sets_the_effect(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.type("/delete")
    assert d.session.pending == "delete"
    assert d.effects == []
    d.press_id("delete.confirm")
    assert d.effects == [DeleteUser()]


def test_delete_keep_erases_nothing(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.press(0)
    d.type("/delete")
    d.press_id("delete.keep")
    assert d.effects == [] and d.session.answers


def test_results_show_summary_picture_suggestions_and_next(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.answer_core(3)
    kinds = [r.kind for r in d.replies]
    assert kinds[0] == "result" and d.replies[0].picture is not None
    assert "Start with Regulate" in d.text
    assert "A first idea to try" in d.text and "Why this one: you told me" in d.text
    assert d.session.profile.start_step == "regulate"
    assert len(d.session.suggested) == 1  # one idea first; the rest a tap away
    assert SaveProfile() in d.effects
    d.press_id("uk")
    ids = [b.id for b in d.last.choices]
    assert ids == ["deeper", "more", "plan", "checkin", "handover", "restart"]
    assert d.last.choices[0].label.startswith("Tell me more:")


def test_more_ideas_never_repeat(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.answer_all(3)
    first = list(d.session.suggested)
    d.press_id("more")
    assert len(d.session.suggested) > len(first)
    assert len(set(d.session.suggested)) == len(d.session.suggested)


def test_all_steady_starts_at_regulate_with_one_relate_idea(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.answer_core(0)
    p = d.session.profile
    assert p.start_on_track and p.start_step == "regulate"
    assert "Nothing you told me stands out" in d.text and "fairly steady" not in d.text
    d.press_id("uk")
    d.press_id("more")
    steps = [content.activities[a].levels for a in d.session.suggested]
    assert len(steps) == 6  # a first idea and one from the next step up; then three more and one up
    assert "relational" in steps[-1]


def test_not_sure_everywhere_never_reassures(content):
    d = Driver(content)
    d.onboard_caregiver()
    while d.session.state == "questions":
        d.press_id("skip")
    assert "There isn't enough to go on yet" in d.text
    assert "looks steady" not in d.text and "Nothing you told me stands out" not in d.text
    d.press_id("uk")
    assert d.last.choices[0].id == "deeper" and d.last.choices[0].label == "A closer look"


def test_session_round_trips_through_json_at_every_state(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.answer_all([0, 1, 2, 3])
    d.press_id("more")
    d.type("/cancel")
    d.type("/start")
    d.deeper(1)
    e = Driver(content)
    e.onboard_educator(group="class")
    e.answer_all(1)
    e.deeper(1)
    states = set()
    for s in d.history + e.history:
        again = Session.from_json(s.to_json())
        assert again == s
        states.add(s.state)
    assert {
        "consent",
        "role",
        "region",
        "age_band",
        "nickname",
        "questions",
        "results",
        "paused",
        "minutes",
        "setting",
    } <= states


def test_old_session_without_version_still_loads(content):
    raw = '{"user_id": "old", "state": "questions", "answers": {"c_sleep": "often"}}'
    s = Session.from_json(raw)
    assert s.schema_version == SCHEMA_VERSION and s.answers == {"c_sleep": "often"}


def test_unknown_command_and_help_reprompt(content):
    d = Driver(content)
    d.onboard_caregiver()
    qid = d.session.question_id
    for cmd in ("help", "privacy", "whatever"):
        d.send(Command(now=NOW, name=cmd))
        assert d.session.question_id == qid
        assert d.replies[-1].choices


def test_language_from_telegram_code_and_switch(content):
    d = Driver(content, language="es-MX")
    assert d.session.language == "es"
    assert "Hola" in d.text
    d.type("/language en")
    assert d.session.language == "en"


def test_engine_does_not_mutate_its_input(content):
    d = Driver(content)
    before = d.session.model_copy(deep=True)
    step(d.session, Choice(now=NOW, option_id="agree", token=d.last.token), content)
    assert d.session == before


@pytest.mark.parametrize(
    "message",
    [
        "I'm being forced to have sex and I'm only 12 years old",
        "my son isn't breathing",
        "i want to kill myself",
        "I can't cope anymore, I'm going to hurt him",
    ],
)
@pytest.mark.parametrize(
    "where", ["consent", "age_band", "questions", "region", "results", "nickname", "paused"]
)
def test_danger_is_answered_first_in_every_state_and_nothing_is_lost(content, message, where):
    d = Driver(content)
    d.reach(where)
    before = d.session.model_copy(deep=True)
    d.type(message)
    assert d.replies[0].kind == "safety"
    # The region is the UK, or not known yet: either way 999 is on screen (before a region, with
    # the other countries' numbers).
    assert "999" in d.replies[0].text
    assert d.session.state == before.state
    assert d.session.answers == before.answers
    assert d.session.nickname == before.nickname  # a disclosure is never kept as a nickname
    ids = [b.id for b in d.replies[-1].choices]
    assert ids[-2:] == ["safety.continue", "safety.stop"]
    # Before the region is known, each country's lines are one tap away; after, only go on / stop.
    countries = [i for i in ids[:-2] if i.startswith("safety.region.")]
    assert len(countries) == len(ids) - 2 and (bool(countries) == (before.region is None))
    d.press_id("safety.continue")
    assert d.session.state == before.state and d.session.question_id == before.question_id


def test_educators_also_get_the_safeguarding_prompt(content):
    d = Driver(content)
    d.onboard_educator()
    d.type("he told me his dad beats him every night")
    assert d.replies[0].kind == "safety"
    assert "safeguarding" in d.replies[0].text.lower()


def test_helplines_command_shows_the_region_lines(content):
    d = Driver(content)
    d.reach("results", "us")
    d.type("/helplines")
    assert "988" in d.text
    assert d.replies[-1].choices  # and the question again


def test_back_walks_into_onboarding_and_forward_again_keeps_answers(content):
    d = Driver(content)
    d.onboard_caregiver(age="3-5", nickname=None)
    d.press(2)
    d.type("/back")
    assert d.session.state == "questions" and d.session.answers == {}
    d.type("/back")
    assert d.session.state == "age_band"
    d.type("/back")
    assert d.session.state == "role"
    d.press_id("foster")
    d.press_id("6-11")
    assert d.session.age_band == "6-11" and d.session.state == "questions" and d.session.carer == "foster"
    d.type("/cancel")
    d.type("/back")
    assert "nothing to go back to" in d.text


def test_an_edited_message_that_adds_a_disclosure_gets_help(content):
    from neuroseq_core.domain.events import Unsupported

    d = Driver(content)
    d.onboard_caregiver()
    before = d.session.answers.copy()
    d.send(Unsupported(now=NOW, what="edited_message", text="he said he wants to kill himself"))
    assert any(r.kind == "safety" for r in d.replies)
    assert d.session.answers == before  # an edit is never applied as an answer
    d.send(Unsupported(now=NOW, what="edited_message", text="sometimes"))
    assert not any(r.kind == "safety" for r in d.replies)
    assert d.session.answers == before


def test_a_session_saved_with_the_old_flow_and_effects_fields_still_loads():
    # Sessions stored before `flow` and `effects` left the session carry them; they load, and
    # nothing else is lost (effects are now returned by step, never stored).
    old = (
        '{"schema_version": 1, "user_id": "u9", "flow": "main", "state": "questions", "consent": true,'
        ' "answers": {"c_sleep": "often"}, "effects": []}'
    )
    session = Session.from_json(old)
    assert session.state == "questions" and session.consent and session.answers == {"c_sleep": "often"}


def test_typing_4_at_the_age_question_means_four_years_old(content):
    d = Driver(content)
    d.press_id("agree")
    d.press_id("parent")
    assert d.last.numbers_are_answers  # the console reads "4" as an age here, not as button 4
    d.type("4")
    assert d.session.age_band == "3-5" and d.session.state == "questions"
    assert "4 years old" in d.text and "3–5 years" in d.text


def _first_idea(content, answers: dict[str, int]) -> tuple[str, str]:
    d = Driver(content)
    d.onboard_caregiver(age="6-11")
    while d.session.state == "questions":
        d.press(answers.get(d.session.question_id, 0))
    result = next(r for r in d.replies if r.kind == "result" and "to try" in r.text)
    return d.session.suggested[0], result.text


def test_two_carers_who_differ_in_one_answer_get_different_ideas_that_fit_what_they_said(content):
    sleepless, sleep_text = _first_idea(content, {"c_sleep": 3})  # sleep hard most nights
    overwhelmed, senses_text = _first_idea(content, {"c_senses": 3})  # noise and touch too much
    assert sleepless != overwhelmed
    assert "sleep" in content.activities[sleepless].needs and "you told me sleep is hard" in sleep_text
    assert "senses" in content.activities[overwhelmed].needs
    assert "noise, touch or busy places can be a lot" in senses_text
    # and a child overwhelmed by touch is never offered an idea that asks for it
    assert "touch" not in content.activities[overwhelmed].uses


def test_language_by_name_anywhere_and_by_buttons(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.type("español")
    assert d.session.language == "es" and "No es un diagnóstico" in d.text  # the disclaimer again
    assert "1 de 5" in d.text and d.session.state == "questions"
    d.type("/language")
    assert [b.id for b in d.replies[-1].choices] == ["language:en"] and d.replies[-1].choices[
        0
    ].label == "English"
    d.press_id("language:en")
    assert d.session.language == "en" and "not a diagnosis" in d.text


def test_a_hard_moment_typed_mid_question_offers_help_right_now(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.type("big meltdown, he's kicking the door")
    side = d.replies[-1]  # after the question again: the one to tap
    assert [b.id for b in side.choices] == ["now.open"] and d.session.state == "questions"
    d.press_id("now.open")
    assert d.session.state == "now"


def _referral_text(content, region: str, age: str, answers: dict[str, int], role: str = "parent") -> str:
    d = Driver(content)
    d.press_id("agree")
    d.press_id(role)
    d.press_id(age)
    d.answer_core(0)
    d.press_id(region)
    d.press_id("deeper")
    if d.session.state == "nickname":
        d.press_id("skip")
    while d.session.state == "questions":
        d.press(answers.get(d.session.question_id, 0))
    return "\n".join(r.text for r in d.replies if r.kind == "result")


def test_referral_routes_fit_the_country_the_age_and_the_carer(content):
    lost = {"c_skills_lost": 3}
    us_teen = _referral_text(content, "us", "12-18", lost)
    assert "pediatrician" in us_teen and "health visitor" not in us_teen
    uk_toddler = _referral_text(content, "uk", "0-2", lost)
    assert "health visitor" in uk_toddler and "pediatrician" not in uk_toddler
    foster = _referral_text(content, "uk", "6-11", lost, role="foster")
    assert "social worker" in foster
    assert foster.count("stopped doing some things") == 1  # one reason, one prompt
    teen_hurting = _referral_text(content, "us", "12-18", {"c_self_hurt": 3})
    assert "school counselor" in teen_hurting and "Nothing you told me stands out" not in teen_hurting


def test_a_reason_fires_once_and_its_fallback_covers_any_other_region():
    from neuroseq_core.domain.models import Condition, ReferralRule
    from neuroseq_core.domain.referral import referrals
    from neuroseq_core.domain.scoring import score

    when = Condition(level={"level": "sensory", "bands": ["unknown"]})
    rules = [
        ReferralRule(id="x_uk", reason="x", message="m.uk", when=when, regions=["uk"]),
        ReferralRule(id="x", reason="x", message="m", when=when),
        ReferralRule(id="y", message="n", when=when, carers=["foster"]),
    ]
    p = score([], {}, _band(), {"sensory": "regulate"})
    assert [r.id for r in referrals(rules, p, {}, "6-11", "caregiver", "one", "uk", "parent")] == ["x_uk"]
    assert [r.id for r in referrals(rules, p, {}, "6-11", "caregiver", "one", "nz", "foster")] == ["x", "y"]


def _band():
    from neuroseq_core.domain.models import AgeBand

    levels = ("sensory", "self_regulation", "relational", "cognitive")
    return AgeBand(
        id="6-11",
        min_age=6,
        max_age=11,
        label={"en": "6-11"},
        thresholds={lv: {"some_support": 1.0, "more_support": 2.0} for lv in levels},
    )


@pytest.mark.parametrize(
    ("typed", "band"),
    [("18 months", "0-2"), ("she is 8 meses", "0-2"), ("12 years", "12-18"), ("tiene 4 años", "3-5")],
)
def test_ages_in_months_and_words_are_read_as_meant(content, typed, band):
    d = Driver(content)
    d.press_id("agree")
    d.press_id("parent")
    d.type(typed)
    assert d.session.age_band == band


def test_a_school_year_is_not_an_age(content):
    d = Driver(content)
    d.press_id("agree")
    d.press_id("class")
    d.type("year 2")
    assert d.session.state == "age_band" and d.session.age_band is None


def test_part_of_a_label_answers_and_is_not_a_hard_moment(content):
    d = Driver(content)
    d.onboard_caregiver()
    d.press(0)
    d.press(0)
    assert d.session.question_id == "c_calm_again"
    d.type("a lot of help")
    assert d.session.answers["c_calm_again"] == "lots_help"
    assert "hard moment" not in d.text


def test_an_idea_that_did_not_help_is_not_offered_first_again(content):
    d = Driver(content)
    d.reach("results")
    first = d.session.suggested[0]
    d.press_id("checkin")
    d.press_id("1")
    d.send(Due(what="checkin", now=NOW + dt.timedelta(days=1)))
    d.press_id("not")
    d.press_id("no")
    d.send(Command(now=NOW + dt.timedelta(days=15), name="progress"))
    d.answer_all(1)
    assert first not in d.session.suggested
