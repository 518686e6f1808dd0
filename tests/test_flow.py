"""The flow in dialogs/ is the one that runs: every name it uses exists, every state is reachable, and
the side trips (resume, /back, help right now, a check-in) go back where they came from by transitions."""

from __future__ import annotations

import dataclasses

from dialogs import MAIN
from dialogs.flow import Ask, Flow, each
from driver import NOW, Driver
from neuroseq_core.content import Content
from neuroseq_core.domain.events import Command, Due
from neuroseq_core.engine import check_flow
from neuroseq_core.engine.registry import CALLBACKS


def test_the_shipped_flow_has_a_function_for_every_name():
    assert check_flow(MAIN) == []
    assert MAIN.callback_names() <= set(CALLBACKS)
    assert "asked_for" in MAIN.callback_names()  # the generated return transitions are really there


def test_a_misspelt_guard_an_unknown_source_or_trigger_is_reported():
    broken = Flow(
        name="broken",
        initial="a",
        states=("a", "b", "lost"),
        transitions=(
            {"trigger": "go", "source": "a", "dest": "b", "conditions": "is_educatr"},
            *each("back", ["b"], ["a"], after="clear_nothing"),
        ),
        asks={
            "a": Ask("x", "go", source="nowhere"),
            "b": Ask("y", "jump", ("one",), "y.{id}"),
            "ghost": Ask("z", "go"),
        },
    )
    problems = "\n".join(check_flow(broken))
    for expected in (
        "'is_educatr' is named",
        "'clear_nothing' is named",
        "unknown source 'nowhere'",
        "unknown trigger 'jump'",
        "unknown state 'ghost'",
        "state 'lost' can never be reached",
    ):
        assert expected in problems, expected


def test_an_ask_names_the_trigger_of_each_of_its_choices():
    results = MAIN.asks["results"]
    assert results.trigger_for("more") == "more_ideas"
    assert results.trigger_for("restart") == "restart"
    assert MAIN.asks["consent"].trigger_for("agree") == "agree"
    assert dataclasses.replace(results, by_choice={}).trigger_for("plan") == "more_ideas"


def test_side_trips_return_where_they_started(content: Content):
    d = Driver(content)
    d.onboard_caregiver()
    d.answer_all(1)
    assert d.session.state == "results"
    d.send(Command(now=NOW, name="now"))
    assert d.session.state == "now"
    d.press(0)
    assert d.session.state == "now_after"
    d.press_id("back")
    assert d.session.state == "results" and d.session.returns.now_return is None
    d.press_id("checkin")
    d.press_id("3")
    assert d.session.state == "results"
    d.send(Command(now=NOW, name="cancel"))
    assert d.session.state == "paused" and d.session.returns.resume == "results"
    d.send(Due(now=NOW, what="checkin"))
    assert d.session.state == "checkin" and d.session.returns.checkin_return == "paused"
    d.press_id("stop")
    assert d.session.state == "results"  # paused is not a place a check-in returns to
    assert "Check-ins stopped." in d.text
    assert d.last is not None and [b.id for b in d.last.choices][:3] == ["deeper", "more", "plan"]
    last_question = d.session.history[-1].removeprefix("q:")
    d.type("/back")  # from the results, /back undoes the last answer
    assert d.session.state == "questions" and d.session.question_id == last_question
    assert last_question not in d.session.answers
