"""Scoring tables, the recommender's bottom-up rule (a hypothesis property), referral rules."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuroseq_core.domain.models import AgeBand, Condition, Option, Question, ReferralRule
from neuroseq_core.domain.recommend import Filters, recommend
from neuroseq_core.domain.referral import referrals
from neuroseq_core.domain.scoring import score

STEPS = {"sensory": "regulate", "self_regulation": "regulate", "relational": "relate", "cognitive": "reason"}
OPTS = [Option(id=f"o{i}", concern=i, label={"en": str(i)}) for i in range(4)]
QUESTIONS = [
    Question(id=f"{lv}_{i}", level=lv, text={"en": "?"}, options=OPTS) for lv in STEPS for i in range(4)
]
BAND = AgeBand(
    id="6-11",
    min_age=6,
    max_age=11,
    label={"en": "6-11"},
    thresholds={lv: {"some_support": 1.0, "more_support": 2.0} for lv in STEPS},
)


def answers_with(means: dict[str, list[int]]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for lv, concerns in means.items():
        for i, c in enumerate(concerns):
            out[f"{lv}_{i}"] = None if c < 0 else f"o{c}"
    return out


@pytest.mark.parametrize(
    ("concerns", "band"),
    [
        ([0, 0, 0, 0], "on_track"),
        ([0, 1, 1, 1], "on_track"),  # mean 0.75
        ([1, 1, 1, 1], "some_support"),  # exactly the threshold
        ([1, 2, 1, 2], "some_support"),  # 1.5
        ([2, 2, 2, 2], "more_support"),  # exactly the threshold
        ([3, 3, 3, 3], "more_support"),
        ([3, -1, -1, -1], "more_support"),  # skipped answers count for nothing
        ([-1, -1, -1, -1], "unknown"),  # nothing answered: never read as steady
    ],
)
def test_band_table(concerns, band):
    p = score(QUESTIONS, answers_with({"sensory": concerns}), BAND, STEPS)
    assert p.band("sensory") == band


@pytest.mark.parametrize(
    ("bands", "start", "step", "on_track"),
    [
        ({}, "sensory", "regulate", False),  # nothing known: start at the bottom, not "steady"
        ({lv: [0, 0, 0, 0] for lv in STEPS}, "sensory", "regulate", True),
        ({"sensory": [0, 0], "self_regulation": [0], "relational": [0]}, "cognitive", "reason", False),
        ({"cognitive": [3, 3, 3, 3]}, "cognitive", "reason", False),
        ({"relational": [2, 2, 2, 2], "cognitive": [3, 3, 3, 3]}, "relational", "relate", False),
        ({"self_regulation": [1, 1, 1, 1], "cognitive": [3, 3, 3, 3]}, "self_regulation", "regulate", False),
        ({"sensory": [3, 3, 3, 3], "self_regulation": [3, 3, 3, 3]}, "sensory", "regulate", False),
    ],
)
def test_starting_step_is_the_lowest_that_needs_support(bands, start, step, on_track):
    p = score(QUESTIONS, answers_with(bands), BAND, STEPS)
    assert (p.start_level, p.start_step, p.start_on_track) == (start, step, on_track)


def test_not_sure_everywhere_is_not_steady():
    p = score(QUESTIONS, answers_with({lv: [-1, -1, -1, -1] for lv in STEPS}), BAND, STEPS)
    assert not p.known and not p.start_on_track and p.unknown_levels() == list(STEPS)
    some = score(QUESTIONS, answers_with({"sensory": [0, 0, 0, 0]}), BAND, STEPS)
    assert some.known and some.start_level == "self_regulation" and not some.start_on_track


def test_the_answers_say_what_is_needed_and_what_to_keep_away():
    touchy = Option(id="flinch", concern=3, label={"en": "Flinches"}, avoid=["touch"])
    qs = [
        Question(id="sleep", level="sensory", text={"en": "?"}, options=OPTS, needs=["sleep"]),
        Question(id="noise", level="sensory", text={"en": "?"}, options=OPTS, needs=["senses", "alarm"]),
        Question(
            id="touch",
            level="relational",
            text={"en": "?"},
            options=[*OPTS[:2], touchy],
            needs=["connection"],
        ),
    ]
    p = score(qs, {"sleep": "o3", "noise": "o2", "touch": "flinch"}, BAND, STEPS)
    assert list(p.needs) == ["connection", "sleep", "senses", "alarm"]  # strongest first
    assert p.needs["sleep"] == 3 and p.needs["alarm"] == 1.2
    assert p.avoid == ["touch"]
    # "Sometimes" is not what an idea may say the carer told us.
    assert "senses" not in score(qs, {"noise": "o1"}, BAND, STEPS).needs
    assert score(qs, {"sleep": "o0"}, BAND, STEPS).needs == {}  # no concern, no need


def test_ideas_follow_what_was_said_and_never_ask_what_the_child_finds_hard(content):
    qs = [q for q in content.questionnaires["caregiver"].questions if q.id in ("c_sleep", "c_senses")]
    band = content.age_bands["6-11"]
    sleepy = score(qs, {"c_sleep": qs[0].options[-1].id, "c_senses": qs[1].options[0].id}, band, STEPS)
    noisy = score(qs, {"c_sleep": qs[0].options[0].id, "c_senses": qs[1].options[-1].id}, band, STEPS)

    def first(p):
        f = Filters("6-11", "home", "one", None, needs=p.needs, avoid=frozenset(p.avoid))
        return recommend(p, content.activities.values(), STEPS, f)

    a, b = first(sleepy), first(noisy)
    assert a[0].activity.id != b[0].activity.id
    assert "sleep" in a[0].activity.needs and a[0].answers[0] == "sleep"
    assert "senses" in b[0].activity.needs
    for pick in b:
        assert not set(pick.activity.uses) & set(noisy.avoid)


def test_younger_bands_use_their_own_thresholds(content):
    # Same answers, different age band thresholds from content: the band may differ, never crash.
    qs = content.questionnaires["caregiver"].questions
    answers = {q.id: q.options[1].id for q in qs}
    for band in content.age_bands.values():
        p = score(qs, answers, band, STEPS)
        assert p.start_step in ("regulate", "relate", "reason")


def _answers_strategy(content, qid):
    qs = content.questionnaires[qid].questions
    return st.fixed_dictionaries({q.id: st.sampled_from([None] + [o.id for o in q.options]) for q in qs})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bottom_up_rule_holds_for_any_answers(content, data):
    qid = data.draw(st.sampled_from(sorted(content.questionnaires)))
    qn = content.questionnaires[qid]
    band_id = data.draw(st.sampled_from(sorted(content.age_bands)))
    answers = data.draw(_answers_strategy(content, qid))
    setting = "home" if qn.role == "caregiver" else data.draw(st.sampled_from(["classroom", "outdoors"]))
    minutes = None if qn.role == "caregiver" else data.draw(st.sampled_from([2, 5, 15]))
    questions = [q for q in qn.questions if q.age_bands is None or band_id in q.age_bands]
    p = score(questions, answers, content.age_bands[band_id], STEPS)
    picks = recommend(p, content.activities.values(), STEPS, Filters(band_id, setting, qn.group, minutes))
    assert picks, "there is always something to suggest"
    order = ["regulate", "relate", "reason"]
    first_steps = [min(order.index(STEPS[lv]) for lv in pk.activity.levels) for pk in picks]
    # Suggestions come from the starting step; only the extra idea may come from one step up.
    assert first_steps[0] == order.index(p.start_step)
    regulate_needs_support = p.band("sensory") != "on_track" or p.band("self_regulation") != "on_track"
    if regulate_needs_support:
        assert all(s == 0 for s in first_steps), "nothing above Regulate while Regulate needs support"
    if not p.start_on_track:
        assert all(s == order.index(p.start_step) for s in first_steps)
    assert len({pk.activity.id for pk in picks}) == len(picks)
    for pk in picks:
        a = pk.activity
        assert band_id in a.age_bands and qn.group in a.groups


def test_recommendations_are_deterministic_and_exclude_seen(content):
    qs = content.questionnaires["caregiver"].questions
    answers = {q.id: q.options[-1].id for q in qs}
    p = score(qs, answers, content.age_bands["3-5"], STEPS)
    f = Filters("3-5", "home", "one", None)
    a = recommend(p, content.activities.values(), STEPS, f)
    b = recommend(p, content.activities.values(), STEPS, f)
    assert [x.activity.id for x in a] == [x.activity.id for x in b]
    c = recommend(p, content.activities.values(), STEPS, f, exclude=[x.activity.id for x in a])
    assert not {x.activity.id for x in a} & {x.activity.id for x in c}


def test_time_available_is_respected_when_it_can_be(content):
    qs = content.questionnaires["educator_class"].questions
    answers = {q.id: q.options[-1].id for q in qs}
    p = score(qs, answers, content.age_bands["6-11"], STEPS)
    picks = recommend(p, content.activities.values(), STEPS, Filters("6-11", "classroom", "class", 2))
    assert picks[0].activity.minutes <= 2 and picks[0].fits_time


def test_referral_rules_any_all_answer_level():
    p = score(
        QUESTIONS, answers_with({"sensory": [3, 3, 3, 3], "self_regulation": [3, 3, 3, 3]}), BAND, STEPS
    )
    both_low = ReferralRule(
        id="r1",
        message="m",
        when=Condition(
            all=[
                Condition(level={"level": "sensory", "bands": ["more_support"]}),
                Condition(level={"level": "self_regulation", "bands": ["more_support"]}),
            ]
        ),
    )
    answer = ReferralRule(
        id="r2", message="m", when=Condition(answer={"question": "sensory_0", "options": ["o3"]})
    )
    only_young = ReferralRule(
        id="r3",
        message="m",
        when=Condition(level={"level": "sensory", "bands": ["more_support"]}, age_bands=["0-2"]),
    )
    educators = ReferralRule(
        id="r4",
        message="m",
        roles=["educator"],
        when=Condition(any=[Condition(level={"level": "sensory", "bands": ["more_support"]})]),
    )
    ans = answers_with({"sensory": [3, 3, 3, 3], "self_regulation": [3, 3, 3, 3]})
    fired = referrals([both_low, answer, only_young, educators], p, ans, "6-11", "caregiver")
    assert [r.id for r in fired] == ["r1", "r2"]
    fired = referrals([both_low, answer, only_young, educators], p, ans, "0-2", "educator")
    assert [r.id for r in fired] == ["r1", "r2", "r3", "r4"]
